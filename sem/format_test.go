package sem

import (
	"testing"

	"pgregory.net/rapid"
)

// TestGlibcInit_Decode: what creation writes reads back as the value,
// with nobody waiting, in both widths; the file's size and private field
// are what glibcFormatOf wants.
func TestGlibcInit_Decode(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := rapid.SampledFrom([]Format{Glibc64, Glibc32}).Draw(t, "format")
		v := rapid.Uint32Range(0, glibcValueMax).Draw(t, "value")
		b := glibcInit(f, v)
		got, err := glibcFormatOf(int64(len(b)), b)
		if err != nil || got != f {
			t.Fatalf("glibcFormatOf(init(%v)) = %v, %v", f, got, err)
		}
		if i := decode(f, b); i.Value != int(v) || i.Waiters != 0 || i.Format != f {
			t.Fatalf("decode(init(%v, %d)) = %+v", f, v, i)
		}
	})
}

// TestDecode_NoPanic: any size and bytes give an Info or an error, never
// a panic.
func TestDecode_NoPanic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		head := rapid.SliceOfN(rapid.Byte(), 0, 40).Draw(t, "head")
		size := rapid.Int64Range(-1, int64(pageSize)+1).Draw(t, "size")
		for _, l := range []Layout{Dir("/d"), glibcDir{dir: "/d"}} {
			Decode(l, size, head)
		}
	})
}

// TestProtocols_Model runs posts and takes on each format's words against
// a counter: the value is the model's, and a take succeeds exactly when
// the model has a unit.
func TestProtocols_Model(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := rapid.SampledFrom([]Format{Glibc64, Glibc32, OpenBSD}).Draw(t, "format")
		mem := make([]byte, 64)
		s := &Semaphore{format: f}
		bindWords(s, mem)
		model := 0
		t.Repeat(map[string]func(*rapid.T){
			"post": func(t *rapid.T) {
				if err := s.postSlow(); err != nil {
					t.Fatal(err)
				}
				model++
			},
			"trywait": func(t *rapid.T) {
				ok, err := s.TryWait()
				if err != nil || ok != (model > 0) {
					t.Fatalf("TryWait = %v, %v with %d units", ok, err, model)
				}
				if ok {
					model--
				}
			},
			"": func(t *rapid.T) {
				if i, _ := s.Info(); i.Value != model || i.Waiters != 0 {
					t.Fatalf("Info %+v, model %d", i, model)
				}
			},
		})
	})
}
