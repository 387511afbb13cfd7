package detect

import "testing"

func BenchmarkMatchOnly(b *testing.B) {
	eng := defaultEngine(b)
	e := decode(b, sample(b, "logentry-secret-access-unknown-principal.json"))
	b.ReportAllocs()
	for b.Loop() {
		eng.Match(e, testSandbox)
	}
}
func BenchmarkEntryValue(b *testing.B) {
	e := decode(b, sample(b, "logentry-secret-access-unknown-principal.json"))
	b.ReportAllocs()
	for b.Loop() {
		entryValue(e)
	}
}
