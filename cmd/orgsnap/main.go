// Command orgsnap backs a Salesforce org up into a content-addressed,
// encrypted snapshot repository.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	app := newApp()
	// The first Ctrl-C (or SIGTERM) asks long work to stop cleanly: a
	// snapshot finishes the jobs in flight and saves a checkpoint. A second
	// one cancels at once (still safe: the last checkpoint stands).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		close(interrupted)
		fmt.Fprintln(os.Stderr, "\norgsnap: stopping after the work in flight (interrupt again to abort)")
		<-sigs
		cancel()
	}()
	if err := runApp(ctx, app, os.Args); err != nil {
		code := exitCode(err)
		fmt.Fprintln(os.Stderr, "orgsnap:", err)
		os.Exit(code)
	}
}
