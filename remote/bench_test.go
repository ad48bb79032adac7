package remote

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/orgsnap/orgsnap/repo"
	"github.com/orgsnap/orgsnap/repo/backend"
	"github.com/orgsnap/orgsnap/repo/backend/s3/s3test"
	"github.com/orgsnap/orgsnap/repo/crypto"
	"github.com/orgsnap/orgsnap/repo/pack"
)

// benchRepo is a repository holding about mib MiB of incompressible file
// chunks in default-sized (16 MiB) packs.
func benchRepo(b *testing.B, mib int) (*repo.Repository, []backend.FileInfo, int64) {
	b.Helper()
	r, err := repo.Init(ctx, filepath.Join(b.TempDir(), "repo"), repo.Options{Password: pw, KDF: crypto.TestKDF})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	rng := rand.New(rand.NewSource(1))
	chunk := make([]byte, 1<<20)
	for i := 0; i < mib; i++ {
		rng.Read(chunk)
		if _, _, err := r.SaveBlob(ctx, pack.TypeFileChunk, "2611", chunk, nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := r.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	var packs []backend.FileInfo
	var total int64
	r.Backend().List(ctx, backend.Packs, func(fi backend.FileInfo) error {
		packs = append(packs, fi)
		total += fi.Size
		return nil
	})
	return r, packs, total
}

// BenchmarkPushVersity: orgsnap push of a 128 MiB repository to a fresh
// prefix of a local versitygw over https (the same transport as real S3),
// against BenchmarkRawUploadVersity, the same pack files uploaded with the
// plain SDK upload manager at the same parallelism — what `aws s3 cp
// --recursive` does. Run with:
//
//	PATH=$PWD/.tools/bin:$PATH go test -run '^$' -bench 'Versity' -benchtime 3x ./remote/
func BenchmarkPushVersity(b *testing.B) {
	r, _, total := benchRepo(b, 128)
	srv := s3test.Versity(b, true)
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rb := srv.NewBackend(b)
		t, err := Push(ctx, r, "bench", rb, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if t.PackBytes != total {
			b.Fatalf("pushed %d of %d bytes", t.PackBytes, total)
		}
	}
}

func BenchmarkRawUploadVersity(b *testing.B) {
	r, packs, total := benchRepo(b, 128)
	srv := s3test.Versity(b, true)
	client := srv.NewBackend(b).Client()
	up := manager.NewUploader(client)
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g, gctx := errgroup.WithContext(context.Background())
		g.SetLimit(8) // Options.Parallel's default
		for _, fi := range packs {
			g.Go(func() error {
				data, err := r.Backend().Load(gctx, backend.Handle{Type: backend.Packs, Name: fi.Name}, 0, -1)
				if err != nil {
					return err
				}
				_, err = up.Upload(gctx, &s3.PutObjectInput{
					Bucket: aws.String(srv.Config.Bucket), Key: aws.String(fmt.Sprintf("raw%d/packs/%s", i, fi.Name)),
					Body: bytes.NewReader(data),
				})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}
