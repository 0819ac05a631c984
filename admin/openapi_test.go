package admin_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/payrecon/reconciler/admin"
	"github.com/payrecon/reconciler/admin/openapi"
	"github.com/payrecon/reconciler/internal/notify"
	"github.com/payrecon/reconciler/internal/operators"
	"github.com/payrecon/reconciler/internal/testing/testenv"
	"github.com/payrecon/reconciler/reconcile"
	"github.com/payrecon/reconciler/webhooks"
	"github.com/payrecon/reconciler/worker"
)

// The tests of this file hold admin/openapi/openapi.yaml to the real
// handlers: every documented route is served and answers only documented
// statuses with bodies of the documented shape, and every registered route
// is documented.

// oaPendingRoutes are the notification routes the contract names and the
// document describes, which the API may not register yet. While one is
// absent from API.Routes its probe is skipped, naming it, instead of
// failing; once registered it is held to the document like any other.
var oaPendingRoutes = []string{
	"POST /admin/endpoints",
	"GET /admin/endpoints",
	"DELETE /admin/endpoints/{id}",
	"GET /admin/endpoints/{id}/deliveries",
	"POST /admin/deliveries/{id}/resend",
}

// oaUndocumentedPrefixes are served under /admin but are not JSON API: the
// operator console and the queue dashboard.
var oaUndocumentedPrefixes = []string{"/admin/ui/", "/admin/queues"}

// oaToken is the admin token of the APIs these tests build.
const oaToken = "openapi-test-token"

// oaSpec is the parsed document, kept as the generic tree yaml.v3 makes.
type oaSpec struct {
	root map[string]any
}

func oaLoad(t *testing.T) *oaSpec {
	t.Helper()
	var root map[string]any
	if err := yaml.Unmarshal(openapi.Document(), &root); err != nil {
		t.Fatalf("parse openapi.yaml: %v", err)
	}
	return &oaSpec{root: root}
}

// oaMap reads v as a mapping; nil when it is none.
func oaMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// lookup follows a local reference such as "#/components/schemas/Invoice".
func (s *oaSpec) lookup(ref string) (any, bool) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var cur any = s.root
	for _, part := range strings.Split(rest, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m := oaMap(cur)
		if m == nil {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// resolve follows $ref until it reaches an object that is not one.
func (s *oaSpec) resolve(v any) map[string]any {
	m := oaMap(v)
	for i := 0; m != nil && i < 10; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		target, _ := s.lookup(ref)
		m = oaMap(target)
	}
	return m
}

// oaOp is one documented operation.
type oaOp struct {
	method string // upper case
	path   string
	op     map[string]any
}

func (o oaOp) String() string { return o.method + " " + o.path }

var oaMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

// operations lists every documented operation: writes first, then reads,
// then deletes, each in path order, so the probes build state before they
// read it and remove it last.
func (s *oaSpec) operations() []oaOp {
	var ops []oaOp
	for path, item := range oaMap(s.root["paths"]) {
		for _, m := range oaMethods {
			if op := oaMap(oaMap(item)[m]); op != nil {
				ops = append(ops, oaOp{method: strings.ToUpper(m), path: path, op: op})
			}
		}
	}
	rank := map[string]int{"POST": 0, "PUT": 0, "PATCH": 0, "GET": 1, "HEAD": 1, "DELETE": 2}
	sort.Slice(ops, func(i, j int) bool {
		if ri, rj := rank[ops[i].method], rank[ops[j].method]; ri != rj {
			return ri < rj
		}
		if ops[i].path != ops[j].path {
			return ops[i].path < ops[j].path
		}
		return ops[i].method < ops[j].method
	})
	return ops
}

// response is the documented answer of op for status, if any.
func (s *oaSpec) response(op map[string]any, status int) (map[string]any, bool) {
	responses := oaMap(op["responses"])
	r, ok := responses[strconv.Itoa(status)]
	if !ok {
		r, ok = responses["default"]
	}
	return s.resolve(r), ok
}

// oaParam matches a path parameter, of the document or of a ServeMux
// pattern.
var oaParam = regexp.MustCompile(`\{[^}]*\}`)

// oaNormalize makes a documented path and a ServeMux pattern's path
// comparable: parameters lose their names, and {$} its mark.
func oaNormalize(path string) string {
	return oaParam.ReplaceAllString(strings.TrimSuffix(path, "{$}"), "{}")
}

// flatten merges an allOf into one schema: the union of properties and of
// required names, the first type given.
func (s *oaSpec) flatten(schema any) map[string]any {
	sch := s.resolve(schema)
	parts, ok := sch["allOf"].([]any)
	if !ok {
		return sch
	}
	out := map[string]any{}
	for k, v := range sch {
		if k != "allOf" {
			out[k] = v
		}
	}
	props := map[string]any{}
	var required []any
	for _, p := range parts {
		sub := s.flatten(p)
		for name, ps := range oaMap(sub["properties"]) {
			props[name] = ps
		}
		if r, ok := sub["required"].([]any); ok {
			required = append(required, r...)
		}
		if _, has := out["type"]; !has && sub["type"] != nil {
			out["type"] = sub["type"]
		}
		if ap, has := sub["additionalProperties"]; has {
			out["additionalProperties"] = ap
		}
	}
	out["properties"], out["required"] = props, required
	return out
}

// validate checks v, decoded with json.Decoder.UseNumber, against schema
// in a light way: type, nullable, enum, the date formats, pattern, required
// properties, and no property the schema does not declare (a field the
// server sends but the document does not describe is drift), recursing into
// properties and items. It returns what is wrong, each with where.
func (s *oaSpec) validate(schema any, v any, at string) []string {
	sch := s.flatten(schema)
	if sch == nil {
		return []string{at + ": schema does not resolve"}
	}
	if v == nil {
		if nullable, _ := sch["nullable"].(bool); nullable || sch["type"] == nil {
			return nil
		}
		return []string{at + ": null, but the schema is not nullable"}
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	if enum, ok := sch["enum"].([]any); ok {
		if !slices.ContainsFunc(enum, func(e any) bool { return e != nil && fmt.Sprint(e) == fmt.Sprint(v) }) {
			fail("%v is not one of %v", v, enum)
		}
	}
	switch typ, _ := sch["type"].(string); typ {
	case "":
		// Any value.
	case "string":
		str, ok := v.(string)
		if !ok {
			fail("%T, want a string", v)
			break
		}
		switch sch["format"] {
		case "date":
			if _, err := time.Parse(time.DateOnly, str); err != nil {
				fail("%q is not a date YYYY-MM-DD", str)
			}
		case "date-time":
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				fail("%q is not an RFC 3339 time", str)
			}
		}
		if p, ok := sch["pattern"].(string); ok {
			if re, err := regexp.Compile(p); err != nil {
				fail("pattern %q does not compile: %v", p, err)
			} else if !re.MatchString(str) {
				fail("%q does not match %s", str, p)
			}
		}
	case "integer":
		n, ok := v.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			fail("%v, want an integer", v)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			fail("%T, want a number", v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("%T, want true or false", v)
		}
	case "array":
		items, ok := v.([]any)
		if !ok {
			fail("%T, want an array", v)
			break
		}
		for i, item := range items {
			errs = append(errs, s.validate(sch["items"], item, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			fail("%T, want an object", v)
			break
		}
		props := oaMap(sch["properties"])
		required, _ := sch["required"].([]any)
		for _, r := range required {
			if _, has := obj[fmt.Sprint(r)]; !has {
				fail("required property %q is missing", r)
			}
		}
		names := make([]string, 0, len(obj))
		for name := range obj {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if ps, declared := props[name]; declared {
				errs = append(errs, s.validate(ps, obj[name], at+"."+name)...)
				continue
			}
			switch extra := sch["additionalProperties"].(type) {
			case bool:
				if !extra {
					fail("property %q is not allowed", name)
				}
			case map[string]any:
				errs = append(errs, s.validate(extra, obj[name], at+"."+name)...)
			default:
				fail("property %q is not documented", name)
			}
		}
	default:
		fail("unknown schema type %q", typ)
	}
	return errs
}

// TestOpenAPIDocument checks the document on its own: it parses, every
// reference resolves, and the conventions of the contract hold throughout.
func TestOpenAPIDocument(t *testing.T) {
	s := oaLoad(t)
	if v := s.root["openapi"]; v != "3.0.3" {
		t.Fatalf("openapi: %v, want 3.0.3", v)
	}

	t.Run("every reference resolves", func(t *testing.T) {
		var walk func(v any, at string)
		walk = func(v any, at string) {
			switch n := v.(type) {
			case map[string]any:
				if ref, ok := n["$ref"].(string); ok {
					if _, found := s.lookup(ref); !found {
						t.Errorf("%s: $ref %s does not resolve", at, ref)
					}
				}
				for k, c := range n {
					walk(c, at+"/"+k)
				}
			case []any:
				for i, c := range n {
					walk(c, fmt.Sprintf("%s[%d]", at, i))
				}
			}
		}
		walk(s.root, "#")
	})

	t.Run("the contract's objects have schemas", func(t *testing.T) {
		schemas := oaMap(oaMap(s.root["components"])["schemas"])
		for _, name := range []string{"Invoice", "InvoiceDetail", "Payment", "CreditNote", "HistoryEntry", "Job", "Event",
			"Run", "Summary", "Error", "Endpoint", "Delivery"} {
			if schemas[name] == nil {
				t.Errorf("no schema %s", name)
			}
		}
	})

	t.Run("amounts are int64 minor units, dates are dates, times are date-times", func(t *testing.T) {
		money := []string{"amount", "credited_amount", "paid_amount", "written_off_amount", "balance", "refunded_amount",
			"payments_online", "payments_manual", "refunds", "disputes", "disputed_amount", "written_off", "outstanding"}
		checked := 0
		var walk func(v any, at string)
		walk = func(v any, at string) {
			switch n := v.(type) {
			case map[string]any:
				for name, p := range oaMap(n["properties"]) {
					ps := s.resolve(p)
					where := at + "." + name
					switch {
					case slices.Contains(money, name):
						checked++
						if ps["type"] != "integer" || ps["format"] != "int64" {
							t.Errorf("%s: type %v format %v, want integer int64", where, ps["type"], ps["format"])
						}
					case strings.HasSuffix(name, "_date") || name == "from" || name == "to":
						if ps["type"] != "string" || ps["format"] != "date" {
							t.Errorf("%s: type %v format %v, want string date", where, ps["type"], ps["format"])
						}
					case strings.HasSuffix(name, "_at"):
						if ps["type"] != "string" || ps["format"] != "date-time" {
							t.Errorf("%s: type %v format %v, want string date-time", where, ps["type"], ps["format"])
						}
					}
				}
				for k, c := range n {
					walk(c, at+"/"+k)
				}
			case []any:
				for i, c := range n {
					walk(c, fmt.Sprintf("%s[%d]", at, i))
				}
			}
		}
		walk(s.root, "#")
		if checked < 10 {
			t.Errorf("only %d money properties seen", checked)
		}
	})

	t.Run("every admin route is behind the bearer token and documents its errors", func(t *testing.T) {
		global, _ := s.root["security"].([]any)
		if len(global) != 1 || oaMap(global[0])["bearerAuth"] == nil {
			t.Fatalf("global security %v, want bearerAuth", global)
		}
		scheme := oaMap(oaMap(oaMap(s.root["components"])["securitySchemes"])["bearerAuth"])
		if scheme["type"] != "http" || scheme["scheme"] != "bearer" {
			t.Errorf("bearerAuth %v, want http bearer", scheme)
		}
		for _, o := range s.operations() {
			if !strings.HasPrefix(o.path, "/admin/") {
				continue
			}
			if sec, overridden := o.op["security"]; overridden {
				t.Errorf("%s overrides security with %v", o, sec)
			}
			for _, status := range []int{401, 503} {
				if r, ok := s.response(o.op, status); !ok || s.errorSchema(r) == nil {
					t.Errorf("%s does not document %d with the Error schema", o, status)
				}
			}
			ok2xx := false
			for code := range oaMap(o.op["responses"]) {
				ok2xx = ok2xx || strings.HasPrefix(code, "2")
			}
			if !ok2xx {
				t.Errorf("%s documents no success", o)
			}
		}
	})

	t.Run("every admin write, and every admin-only read, documents 403 forbidden_role", func(t *testing.T) {
		for _, o := range s.operations() {
			if !strings.HasPrefix(o.path, "/admin/") {
				continue
			}
			need := admin.RequiredRole(o.method+" "+o.path, o.method)
			if need == operators.RoleViewer {
				continue
			}
			if r, ok := s.response(o.op, http.StatusForbidden); !ok || s.errorSchema(r) == nil {
				t.Errorf("%s needs the %s role but does not document 403 with the Error schema", o, need)
			}
		}
	})

	t.Run("the document names no path outside the project", func(t *testing.T) {
		outside := regexp.MustCompile(`(^|[\s("'])(/(work|home|root|tmp|usr|var|etc|opt|srv|mnt)/|[A-Za-z]:\\|file:)`)
		for i, line := range strings.Split(string(openapi.Document()), "\n") {
			if outside.MatchString(line) {
				t.Errorf("line %d names a path outside the project: %s", i+1, strings.TrimSpace(line))
			}
		}
	})

	t.Run("every write that queues a job takes an Idempotency-Key", func(t *testing.T) {
		queued := 0
		for _, o := range s.operations() {
			r, _ := s.response(o.op, http.StatusAccepted)
			if r == nil || oaMap(oaMap(oaMap(r["content"])["application/json"])["schema"])["$ref"] != "#/components/schemas/Job" {
				continue
			}
			queued++
			has := false
			params, _ := o.op["parameters"].([]any)
			for _, p := range params {
				has = has || s.resolve(p)["name"] == "Idempotency-Key"
			}
			if !has {
				t.Errorf("%s queues a job but takes no Idempotency-Key", o)
			}
		}
		if queued < 5 {
			t.Errorf("%d operations answer 202 with a job, want the 5 queueing writes", queued)
		}
	})

	t.Run("every required request body has an example that fits its schema", func(t *testing.T) {
		for _, o := range s.operations() {
			body := s.resolve(o.op["requestBody"])
			media := oaMap(oaMap(body["content"])["application/json"])
			if media == nil {
				continue
			}
			ex, has := media["example"]
			if !has {
				if required, _ := body["required"].(bool); required {
					t.Errorf("%s: required body without an example", o)
				}
				continue
			}
			v := oaJSONValue(t, ex)
			for _, e := range s.validate(media["schema"], v, o.String()+" example") {
				t.Error(e)
			}
		}
	})
}

// errorSchema returns the schema of a documented error answer when it is
// the contract's Error, else nil.
func (s *oaSpec) errorSchema(r map[string]any) map[string]any {
	sch := oaMap(oaMap(oaMap(r["content"])["application/json"])["schema"])
	if sch["$ref"] != "#/components/schemas/Error" {
		return nil
	}
	return sch
}

// oaJSONValue turns a YAML value into what decoding its JSON gives.
func oaJSONValue(t *testing.T, v any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %v: %v", v, err)
	}
	out, err := oaDecode(raw)
	if err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return out
}

func oaDecode(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// TestOpenAPIValidatorRefusesDrift makes sure the light checker the other
// tests rely on does refuse what it should.
func TestOpenAPIValidatorRefusesDrift(t *testing.T) {
	s := oaLoad(t)
	good := `{"id":"inv_1","number":"F-1","client":"acme","currency":"usd","amount":1000,"credited_amount":0,"paid_amount":0,
		"refunded_amount":0,"disputed_amount":0,"written_off_amount":0,"balance":1000,"state":"draft","overdue":false,
		"issue_date":null,"due_date":"2024-03-31",
		"sent_at":null,"paid_at":null,"written_off_at":null,"stripe_invoice_id":null,
		"created_at":"2024-03-01T10:00:00Z","updated_at":"2024-03-01T10:00:00.123456Z"}`
	invoice := map[string]any{"$ref": "#/components/schemas/Invoice"}
	check := func(body string) []string {
		v, err := oaDecode([]byte(body))
		if err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
		return s.validate(invoice, v, "invoice")
	}
	if errs := check(good); len(errs) > 0 {
		t.Fatalf("a good invoice is refused: %v", errs)
	}
	for name, bad := range map[string]string{
		"a missing property":       strings.Replace(good, `"balance":1000,`, ``, 1),
		"a fractional amount":      strings.Replace(good, `"amount":1000`, `"amount":10.5`, 1),
		"an amount as a string":    strings.Replace(good, `"amount":1000`, `"amount":"1000"`, 1),
		"a time as a date":         strings.Replace(good, `"2024-03-31"`, `"2024-03-31T00:00:00Z"`, 1),
		"an unknown state":         strings.Replace(good, `"draft"`, `"void"`, 1),
		"null where not nullable":  strings.Replace(good, `"client":"acme"`, `"client":null`, 1),
		"an undocumented property": strings.Replace(good, `{`, `{"tax":1,`, 1),
	} {
		if errs := check(bad); len(errs) == 0 {
			t.Errorf("%s is accepted", name)
		}
	}
}

// TestOpenAPIServed checks GET /admin/openapi.yaml: the embedded document,
// as YAML, only with the token.
func TestOpenAPIServed(t *testing.T) {
	srv := httptest.NewServer(admin.New(admin.Config{Token: oaToken}))
	t.Cleanup(srv.Close)
	get := func(auth string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/admin/openapi.yaml", nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, body
	}

	res, body := get("Bearer " + oaToken)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type %q, want application/yaml", ct)
	}
	if !bytes.Equal(body, openapi.Document()) {
		t.Error("the body is not the embedded document")
	}

	res, body = get("Bearer wrong")
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("with a wrong token: status %d, want 401; body %s", res.StatusCode, body)
	}
}

// TestOpenAPIDocumentsEveryRoute checks that every route the API registers
// is in the document, and the webhook receiver too.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	s := oaLoad(t)
	api := admin.New(admin.Config{Token: oaToken})
	api.MountNotifications(nil)
	routes := api.Routes()
	if len(routes) < 15 {
		t.Fatalf("API.Routes lists %d routes: %v", len(routes), routes)
	}
	for _, msg := range s.undocumented(routes) {
		t.Error(msg)
	}

	t.Run("a route missing from the document is reported", func(t *testing.T) {
		api := admin.New(admin.Config{Token: oaToken})
		api.Handle("GET /admin/widgets/{widget}", func(http.ResponseWriter, *http.Request) {})
		api.Handle("/admin/queues/", func(http.ResponseWriter, *http.Request) {})
		got := s.undocumented(api.Routes())
		if len(got) != 1 || !strings.Contains(got[0], "/admin/widgets/{widget}") {
			t.Errorf("undocumented: %q, want only the widgets route", got)
		}
	})

	t.Run("the webhook receiver", func(t *testing.T) {
		var hook map[string]any
		for _, o := range s.operations() {
			if o.method == http.MethodPost && o.path == "/webhooks/stripe" {
				hook = o.op
			}
		}
		if hook == nil {
			t.Fatal("POST /webhooks/stripe is not documented")
		}
		sec, _ := hook["security"].([]any)
		if len(sec) != 1 || oaMap(sec[0])["stripeSignature"] == nil {
			t.Errorf("security %v, want stripeSignature (not the admin token)", sec)
		}
		for _, status := range []int{200, 400, 413, 503} {
			if _, ok := s.response(hook, status); !ok {
				t.Errorf("%d is not documented", status)
			}
		}
	})
}

// undocumented reports each ServeMux pattern of routes that the document
// does not describe, leaving out the console and the queue dashboard. A
// pattern without a method needs its path documented with any method.
func (s *oaSpec) undocumented(routes []string) []string {
	documented := map[string]bool{} // "METHOD normalized-path", and "* normalized-path"
	for _, o := range s.operations() {
		documented[o.method+" "+oaNormalize(o.path)] = true
		documented["* "+oaNormalize(o.path)] = true
	}
	var out []string
	for _, pattern := range routes {
		method, path, hasMethod := strings.Cut(pattern, " ")
		if !hasMethod {
			method, path = "*", pattern
		}
		path = strings.TrimSpace(path)
		switch {
		case slices.ContainsFunc(oaUndocumentedPrefixes, func(p string) bool { return strings.HasPrefix(path, p) }):
		case !strings.HasPrefix(path, "/"):
			out = append(out, fmt.Sprintf("route %q has a host: the document cannot describe it", pattern))
		case !documented[method+" "+oaNormalize(path)]:
			out = append(out, fmt.Sprintf("route %q is registered but not in openapi.yaml", pattern))
		}
	}
	return out
}

// oaEnv is a real API on its own database and Redis, with the real worker
// running its jobs, and ids of objects made for the probes' paths.
type oaEnv struct {
	t     *testing.T
	url   string
	api   *admin.API
	store *reconcile.Store
	ids   map[string]string // "{id}" of a path's first segment after /admin/, and other parameters by name

	// made holds objects of the notify store and the ledger's outbox, by
	// schema name, as JSON: the shapes the notification routes and the
	// deliveries show.
	made map[string][]byte
}

func newOAEnv(t *testing.T) *oaEnv {
	t.Helper()
	store, pool := testenv.Store(t)
	redisOpt := testenv.Redis(t)
	client := worker.NewClient(redisOpt, store, zap.NewNop())
	t.Cleanup(func() { _ = client.Close() })
	runner := reconcile.NewRunner(store, client, reconcile.RunnerConfig{RelayAfter: time.Minute})
	srv := worker.NewServer(redisOpt, 2, worker.NewHandlers(store, client, runner, time.Minute, zap.NewNop()).WithLivemode(false), zap.NewNop())
	if err := srv.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	ops := operators.NewStore(pool)
	api := admin.New(admin.Config{Token: oaToken, Store: store, Jobs: client, Operators: ops, Log: zap.NewNop()})
	hs := httptest.NewServer(api)
	t.Cleanup(hs.Close)
	e := &oaEnv{t: t, url: hs.URL, api: api, store: store, ids: map[string]string{}, made: map[string][]byte{}}

	// An endpoint first, so that the payment below owes it a delivery. It
	// is made in the store, so the probes have one whether or not the
	// endpoints routes are registered yet.
	ctx := context.Background()
	notifications := notify.NewStore(pool)
	api.MountNotifications(notifications)
	ep, _, err := notifications.CreateEndpoint(ctx, "https://hooks.example.com/reconciler", nil, "openapi test")
	if err != nil {
		t.Fatalf("create endpoint: %v", err)
	}
	e.ids["endpoints"] = ep.ID

	// An operator, so that revoking one has one to revoke; the probe of
	// POST /admin/operators adds another, named as the document's example.
	op, _, err := ops.Create(ctx, "oa-operator", operators.RoleViewer, "admin")
	if err != nil {
		t.Fatalf("create operator: %v", err)
	}
	e.ids["operators"] = op.ID

	const inv = "oa_inv_1"
	e.ids["invoices"] = inv
	res, body := e.call(http.MethodPost, "/admin/invoices",
		`{"id":"`+inv+`","number":"F-OA-1","client":"acme","currency":"usd","amount":100000,"due_date":"2030-01-31"}`)
	e.must(res, body, http.StatusCreated)
	res, body = e.call(http.MethodPost, "/admin/invoices/"+inv+"/send", "")
	e.must(res, body, http.StatusOK)
	res, body = e.call(http.MethodPost, "/admin/invoices/"+inv+"/payments", `{"amount":20000,"method":"check","notes":"first"}`)
	e.must(res, body, http.StatusAccepted)
	var job reconcile.Job
	if err := json.Unmarshal(body, &job); err != nil {
		t.Fatalf("decode job %s: %v", body, err)
	}
	if done := e.waitJob(job.ID); done.Status != reconcile.JobSucceeded {
		t.Fatalf("payment job %s: %s", done.Status, done.Error)
	}
	e.ids["jobs"] = job.ID

	detail, err := store.GetInvoiceDetail(ctx, inv)
	if err != nil || len(detail.Payments) != 1 {
		t.Fatalf("invoice %s: %d payments, %v", inv, len(detail.Payments), err)
	}
	e.ids["payment_id"] = detail.Payments[0].ID

	deliveries, err := notifications.ListDeliveries(ctx, ep.ID, "", 10)
	if err != nil || len(deliveries) == 0 {
		t.Fatalf("deliveries of %s: %d, %v", ep.ID, len(deliveries), err)
	}
	e.ids["deliveries"] = deliveries[0].ID

	for name, v := range map[string]any{"Endpoint": ep, "Delivery": deliveries[0]} {
		if e.made[name], err = json.Marshal(v); err != nil {
			t.Fatalf("encode %s: %v", name, err)
		}
	}
	var sent []byte
	if err := pool.QueryRow(ctx, `SELECT body FROM notifications ORDER BY created_at LIMIT 1`).Scan(&sent); err != nil {
		t.Fatalf("read notification: %v", err)
	}
	e.made["Notification"] = sent

	// A stored Stripe event, so that the events listing has one to check.
	now := time.Now().UTC()
	if _, err := store.StoreEvents(ctx, []reconcile.InboxEvent{{ID: "evt_oa_1", Type: "customer.created", Created: now,
		Payload: []byte(`{"id":"evt_oa_1","object":"event","type":"customer.created","data":{"object":{}}}`),
		Source:  reconcile.SourceWebhook}}); err != nil {
		t.Fatalf("store event: %v", err)
	}
	// An unmatched event, for the resolve probe (which ignores it, so the
	// events listing then shows a resolution), and two open discrepancies,
	// one for the resolve probe and one the listing still shows.
	if _, err := store.StoreEvents(ctx, []reconcile.InboxEvent{{ID: "evt_oa_stray", Type: "payment_intent.succeeded", Created: now,
		Payload: []byte(`{"id":"evt_oa_stray","object":"event","type":"payment_intent.succeeded","data":{"object":{}}}`),
		Source:  reconcile.SourceWebhook}}); err != nil {
		t.Fatalf("store event: %v", err)
	}
	if err := store.MarkEvent(ctx, "evt_oa_stray", reconcile.EventResult{Status: reconcile.EventUnmatched, InvoiceID: "oa_unknown",
		Reason: "no invoice"}); err != nil {
		t.Fatalf("mark event: %v", err)
	}
	e.ids["events"] = "evt_oa_stray"
	for _, id := range []string{"dsc_oa_1", "dsc_oa_2"} {
		if _, err := pool.Exec(ctx, `
			INSERT INTO discrepancies (id, kind, provider_ref, invoice_id, currency, ledger_amount, stripe_amount, detail,
				found_run, last_seen_run)
			VALUES ($1, 'amount_mismatch', 'pi_'||$1, $2, 'usd', 20000, 19000, 'the ledger recorded more', 'run_oa', 'run_oa')`,
			id, inv); err != nil {
			t.Fatalf("insert discrepancy: %v", err)
		}
	}
	e.ids["discrepancies"] = "dsc_oa_1"
	return e
}

// call sends a request with the token; body "" sends none.
func (e *oaEnv) call(method, path, body string, headers ...string) (*http.Response, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+oaToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return res, raw
}

func (e *oaEnv) must(res *http.Response, body []byte, status int) {
	e.t.Helper()
	if res.StatusCode != status {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, status, body)
	}
}

// waitJob polls the store until job id is finished.
func (e *oaEnv) waitJob(id string) reconcile.Job {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err := e.store.GetJob(context.Background(), id)
		if err != nil {
			e.t.Fatalf("job %s: %v", id, err)
		}
		if j.Status.Finished() {
			return j
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("job %s still %s after 60s", id, j.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fill puts the made objects' ids in a documented path. "{id}" is the id of
// the kind the path's first segment after /admin/ names; other parameters
// go by name. Without an object of that kind the id is one that does not
// exist, and the answer must then be a documented, domain 404.
func (e *oaEnv) fill(path string) string {
	kind, _, _ := strings.Cut(strings.TrimPrefix(path, "/admin/"), "/")
	return oaParam.ReplaceAllStringFunc(path, func(p string) string {
		name := strings.Trim(p, "{}")
		if name == "id" {
			name = kind
		}
		if id, ok := e.ids[name]; ok {
			return id
		}
		return "oa_missing"
	})
}

// TestOpenAPIRoutesAnswer sends a request to every documented /admin route
// of the real API, with the document's own example body, and checks that
// the route is served (not the router's 404 or 405), that the status is one
// the route documents, and that the body has the documented shape.
func TestOpenAPIRoutesAnswer(t *testing.T) {
	s := oaLoad(t)
	e := newOAEnv(t)
	registered := map[string]bool{} // by method and normalized path
	for _, p := range e.api.Routes() {
		method, path, _ := strings.Cut(p, " ")
		registered[method+" "+oaNormalize(path)] = true
	}

	for _, o := range s.operations() {
		if !strings.HasPrefix(o.path, "/admin/") {
			continue // the webhook receiver has its own test; /healthz and /readyz are served by cmd/reconciler
		}
		t.Run(o.String(), func(t *testing.T) {
			if slices.Contains(oaPendingRoutes, o.String()) && !registered[o.method+" "+oaNormalize(o.path)] {
				t.Skipf("%s is documented (API.md, Outbound notifications) but not registered yet", o)
			}
			var body string
			if media := oaMap(oaMap(s.resolve(o.op["requestBody"])["content"])["application/json"]); media != nil {
				if ex, ok := media["example"]; ok {
					raw, err := json.Marshal(ex)
					if err != nil {
						t.Fatalf("encode example: %v", err)
					}
					body = string(raw)
				}
			}
			path := e.fill(o.path)
			res, raw := e.call(o.method, path, body)
			shown := bytes.TrimSpace(raw)
			if len(shown) > 300 {
				shown = append(shown[:300:300], "..."...)
			}
			t.Logf("%s %s: %d %s", o.method, path, res.StatusCode, shown)

			var errBody struct {
				Error struct{ Code string } `json:"error"`
			}
			_ = json.Unmarshal(raw, &errBody)
			if res.StatusCode == http.StatusMethodNotAllowed ||
				res.StatusCode == http.StatusNotFound && errBody.Error.Code == "not_found" {
				t.Fatalf("%s is documented but not served: %d %s", o, res.StatusCode, raw)
			}

			doc, ok := s.response(o.op, res.StatusCode)
			if !ok {
				t.Fatalf("status %d is not documented for %s: %s", res.StatusCode, o, raw)
			}
			oaCheckBody(t, s, doc, res, raw)

			// A queued job runs to its end before the next probe, so each
			// probe meets a settled ledger and the next reads its outcome.
			schema := oaMap(oaMap(oaMap(doc["content"])["application/json"])["schema"])
			var j reconcile.Job
			if schema["$ref"] == "#/components/schemas/Job" && json.Unmarshal(raw, &j) == nil && j.ID != "" {
				e.waitJob(j.ID)
			}
		})
	}
}

// TestOpenAPINotificationShapes holds the notify store's endpoint and
// delivery, which the notification routes show, and a notification as an
// endpoint receives it, to their schemas, whether or not those routes are
// registered yet.
func TestOpenAPINotificationShapes(t *testing.T) {
	s := oaLoad(t)
	e := newOAEnv(t)
	for _, name := range []string{"Endpoint", "Delivery", "Notification"} {
		t.Run(name, func(t *testing.T) {
			v, err := oaDecode(e.made[name])
			if err != nil {
				t.Fatalf("decode %s: %v", e.made[name], err)
			}
			for _, msg := range s.validate(map[string]any{"$ref": "#/components/schemas/" + name}, v, name) {
				t.Error(msg)
			}
		})
	}
}

// oaCheckBody holds an answer to its documented response: its media type,
// and for JSON the schema; no body where none is documented.
func oaCheckBody(t *testing.T, s *oaSpec, doc map[string]any, res *http.Response, raw []byte) {
	t.Helper()
	content := oaMap(doc["content"])
	if len(content) == 0 {
		if len(bytes.TrimSpace(raw)) > 0 {
			t.Errorf("a body where none is documented: %s", raw)
		}
		return
	}
	mediaType, _, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", res.Header.Get("Content-Type"), err)
	}
	media := oaMap(content[mediaType])
	if media == nil {
		t.Fatalf("Content-Type %s is not documented (documented: %v)", mediaType, content)
	}
	if mediaType != "application/json" {
		if len(raw) == 0 {
			t.Error("empty body")
		}
		return
	}
	v, err := oaDecode(raw)
	if err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, raw)
	}
	for _, msg := range s.validate(media["schema"], v, "body") {
		t.Error(msg)
	}
}

// TestOpenAPIWebhook sends the real webhook receiver a signed event, a
// badly signed one, one over its size limit and one with no secret
// configured, and holds each answer to the document.
func TestOpenAPIWebhook(t *testing.T) {
	s := oaLoad(t)
	var hook map[string]any
	for _, o := range s.operations() {
		if o.method == http.MethodPost && o.path == "/webhooks/stripe" {
			hook = o.op
		}
	}
	if hook == nil {
		t.Fatal("POST /webhooks/stripe is not documented")
	}
	store, _ := testenv.Store(t)
	const secret = "whsec_openapi_test"
	serve := func(cfg webhooks.Config) string {
		h := webhooks.New(cfg, store, nil, zap.NewNop())
		srv := httptest.NewServer(h)
		t.Cleanup(func() { srv.Close(); h.Close() })
		return srv.URL
	}
	configured := serve(webhooks.Config{Secrets: []string{secret}, MaxBody: 4096})
	unconfigured := serve(webhooks.Config{})

	event := func(id string) []byte {
		return fmt.Appendf(nil, `{"id":%q,"object":"event","type":"customer.created","created":%d,"data":{"object":{"id":"cus_1"}}}`,
			id, time.Now().Unix())
	}
	sign := func(payload []byte, key string) string {
		ts := time.Now().Unix()
		mac := hmac.New(sha256.New, []byte(key))
		fmt.Fprintf(mac, "%d.%s", ts, payload)
		return fmt.Sprintf("t=%d,v1=%s", ts, hex.EncodeToString(mac.Sum(nil)))
	}
	for _, c := range []struct {
		name      string
		url       string
		payload   []byte
		signature string
		want      int
	}{
		{"a signed event is stored", configured, event("evt_oa_hook_1"), "", http.StatusOK},
		{"a bad signature is refused", configured, event("evt_oa_hook_2"), "t=1,v1=00", http.StatusBadRequest},
		{"a body over the limit is refused", configured, bytes.Repeat([]byte("x"), 8192), "t=1,v1=00", http.StatusRequestEntityTooLarge},
		{"without a secret the receiver is closed", unconfigured, event("evt_oa_hook_3"), "t=1,v1=00", http.StatusServiceUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			sig := c.signature
			if sig == "" {
				sig = sign(c.payload, secret)
			}
			req, err := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(c.payload))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Stripe-Signature", sig)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != c.want {
				t.Fatalf("status %d, want %d; body %s", res.StatusCode, c.want, raw)
			}
			doc, ok := s.response(hook, res.StatusCode)
			if !ok {
				t.Fatalf("status %d is not documented", res.StatusCode)
			}
			oaCheckBody(t, s, doc, res, raw)
		})
	}
}
