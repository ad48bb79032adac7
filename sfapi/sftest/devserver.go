package sftest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// ListenAndServe serves a generated org on addr (e.g. "127.0.0.1:8642")
// until ctx is done, after printing its instance URL and an access token
// (shaped 00D…!…, as `sf org login access-token` requires) to out. It is
// the engine of `orgsnap dev-org`.
func ListenAndServe(ctx context.Context, addr string, opts Options, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("dev org: listen on %s: %w", addr, err)
	}
	o := NewOrg(opts)
	url := "http://" + ln.Addr().String()
	var total int64
	for _, n := range o.Objects() {
		total += o.GeneratedCount(n)
	}
	fmt.Fprintf(out, "Emulated Salesforce org %s: %d records, seed %d\n", o.ID(), total, opts.Seed)
	fmt.Fprintf(out, "instance URL:  %s\n", url)
	fmt.Fprintf(out, "access token:  %s\n", o.Token())
	fmt.Fprintf(out, "username:      %s (password %s, client id %s, client secret %s)\n",
		o.opts.Username, o.opts.Password, o.opts.ClientID, o.opts.ClientSecret)
	fmt.Fprintf(out, "sf CLI:        SF_ACCESS_TOKEN='%s' sf org login access-token --instance-url %s --no-prompt --alias emu\n", o.Token(), url)
	srv := &http.Server{Handler: o.Handler(), ReadHeaderTimeout: 30 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("dev org: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("dev org: shutdown: %w", err)
		}
		return nil
	}
}
