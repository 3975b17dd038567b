package xmlscan

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDoesNotAllocate(t *testing.T) {
	for _, ex := range []string{exRequest, exCreate, exRestart, exFeatures, exMessages} {
		data := []byte(ex)
		var doc Doc
		require.NoError(t, Parse(data, Limits{}, &doc))
		allocs := testing.AllocsPerRun(100, func() {
			if err := Parse(data, Limits{}, &doc); err != nil {
				t.Fatal(err)
			}
		})
		assert.Zero(t, allocs, "allocations parsing %s", ex)
	}
}

func BenchmarkParse(b *testing.B) {
	benchmarks := []struct {
		name string
		doc  string
	}{
		{"request", exRequest},
		{"create", exCreate},
		{"features", exFeatures},
		{"messages", exMessages},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			data := []byte(bm.doc)
			var doc Doc
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Parse(data, Limits{}, &doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
