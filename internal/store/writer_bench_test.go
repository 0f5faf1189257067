package store

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/bizsec/bizsec/internal/settings"
)

// BenchmarkUpdate measures a durable settings write through the SQLite
// writer, alone and with writers waiting together (group commit): its
// time is mostly the fsync's, its allocations the store's own. Run with
// -benchmem.
func BenchmarkUpdate(b *testing.B) {
	for _, writers := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("%d writers", writers), func(b *testing.B) {
			st := sqliteWithTenant(b)
			ctx := context.Background()
			biz := RootBusinessID("acme")
			w := Write{Actor: "bench", IfMatch: AnyVersion}
			var wg sync.WaitGroup
			jobs := make(chan struct{})
			for range writers {
				wg.Go(func() {
					for range jobs {
						if _, _, err := Update(ctx, st, settings.LoginPolicyKind, biz, w, func(p *settings.LoginPolicy) error {
							p.AttemptsPeriod++
							return nil
						}); err != nil {
							b.Error(err)
						}
					}
				})
			}
			for b.Loop() {
				jobs <- struct{}{}
			}
			close(jobs)
			wg.Wait()
		})
	}
}
