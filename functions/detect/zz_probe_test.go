package detect

import "testing"

func TestProbe(t *testing.T) {
	env, _ := newEnv()
	for _, r := range DefaultRules() {
		ast, iss := env.Compile(r.Expression)
		if iss.Err() != nil {
			t.Fatal(r.Name, iss.Err())
		}
		est, err := env.EstimateCost(ast, sizeBounds{})
		t.Log(r.Name, est, err)
	}
	for _, e := range []string{
		`entry.protoPayload.authorizationInfo.exists(a, a.permission.startsWith('x'))`,
		`entry.protoPayload.authorizationInfo.exists(a, entry.protoPayload.authorizationInfo.exists(b, a == b))`,
		`[1,2,3,4,5,6,7,8,9,10].all(x, [1,2,3,4,5,6,7,8,9,10].all(y, [1,2,3,4,5,6,7,8,9,10].all(z, x+y+z > 0)))`,
		`sandbox.secrets.exists(s, entry.protoPayload.resourceName.endsWith(s))`,
		`has(entry.textPayload) && entry.textPayload.matches('secret')`,
	} {
		ast, iss := env.Compile(e)
		if iss.Err() != nil {
			t.Fatal(e, iss.Err())
		}
		est, err := env.EstimateCost(ast, sizeBounds{})
		t.Log(e, est, err)
	}
	t.Log(SinkFilter(Sandbox{ServiceAccount: "cc-sandbox@coopguard-demo.iam.gserviceaccount.com", Secrets: []string{"anthropic-api-key"}, Network: "coopguard-net"}))
}
