package detect

import "testing"

func BenchmarkZTrivial(b *testing.B) {
	var rules []Rule
	for _, n := range []string{"a", "b", "c", "d"} {
		rules = append(rules, Rule{Name: n, Expression: "true", Playbook: "p", Severity: "INFO"})
	}
	eng, _ := Compile(rules)
	e := decode(b, sample(b, "logentry-secret-access-unknown-principal.json"))
	b.ReportAllocs()
	for b.Loop() {
		eng.Match(e, testSandbox)
	}
}
func BenchmarkZDefault(b *testing.B) {
	eng := defaultEngine(b)
	for _, r := range eng.rules {
		e := decode(b, sample(b, "logentry-secret-access-unknown-principal.json"))
		one := &Engine{rules: []compiledRule{r}}
		b.Run(r.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				one.Match(e, testSandbox)
			}
		})
	}
}
