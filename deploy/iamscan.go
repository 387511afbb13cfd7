package deploy

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// CallSite is one call of a GCP client method in the repository's source.
type CallSite struct {
	// Pos is file:line, the file relative to the repository root.
	Pos string
	// File is the file relative to the repository root, with slashes.
	File string
	// Dir is the package directory relative to the repository root.
	Dir string
	// Func is the top-level declaration the call is in: a function's name,
	// or a method's as "Type.Method".
	Func string
	// Method is the key in Methods, e.g. "Instances.Stop".
	Method string
}

func (c CallSite) String() string { return c.Method + " at " + c.Pos }

// Package is one directory's non-test Go source as the scanner sees it.
type Package struct {
	Dir string
	// Imports are the module-local packages it imports (directories).
	Imports []string
	Calls   []CallSite
	// Refs maps each top-level function and method ("F", "T.M") to the
	// package's own functions and methods it names (a method by its name
	// alone, so x.M refers to every method M of the package): who may run
	// what, within the package.
	Refs map[string][]string
}

// clientsPkg is where the client set lives (relative to the module root).
const clientsPkg = "shared/gcp"

// Scan parses every non-test Go file of the module at root (except
// directories in skip, e.g. "test") and returns its packages with their
// GCP client calls: method calls on the gcp.Clients fields (c.Instances.Stop,
// e.Clients.Secrets.DisableSecretVersion,
// e.ClientsOf(account).Instances.List — a package function returning a client,
// c.PubSub.TopicAdminClient.CreateTopic, c.PubSub.Publisher(t).Publish), also
// through variables, parameters and struct fields of those client types.
func Scan(root string, skip ...string) (map[string]*Package, error) {
	module, err := modulePath(root)
	if err != nil {
		return nil, err
	}
	kinds, err := clientKinds(root, module)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	files := map[string][]*ast.File{} // dir → files
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			for _, s := range skip {
				if rel == s {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("deploy.Scan: %w", err)
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		files[dir] = append(files[dir], f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	pkgs := map[string]*Package{}
	for dir, fs := range files {
		p := &Package{Dir: dir}
		pkgs[dir] = p
		sc := &scanner{fset: fset, root: root, kinds: kinds, module: module, dir: dir, fields: map[string]string{}, funcs: map[string]string{}}
		imports := map[string]bool{}
		for _, f := range fs {
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if path == module {
					imports["."] = true
				} else if rest, ok := strings.CutPrefix(path, module+"/"); ok {
					imports[rest] = true
				}
			}
			sc.collectFields(f)
		}
		for _, f := range fs {
			p.Calls = append(p.Calls, sc.calls(f)...)
		}
		p.Refs = refs(fs)
		for imp := range imports {
			p.Imports = append(p.Imports, imp)
		}
		sort.Strings(p.Imports)
		sort.Slice(p.Calls, func(i, j int) bool { return p.Calls[i].Pos < p.Calls[j].Pos })
	}
	return pkgs, nil
}

var moduleLine = regexp.MustCompile(`(?m)^module\s+(\S+)`)

func modulePath(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("deploy.Scan: %w", err)
	}
	m := moduleLine.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("deploy.Scan: no module line in %s/go.mod", root)
	}
	return string(m[1]), nil
}

// Pub/Sub's sub-clients: the fields and constructors of *pubsub.Client.
var pubsubKinds = map[string]string{
	"cloud.google.com/go/pubsub/v2/apiv1.TopicAdminClient":        "PubSub.TopicAdminClient",
	"cloud.google.com/go/pubsub/v2/apiv1.SubscriptionAdminClient": "PubSub.SubscriptionAdminClient",
	"cloud.google.com/go/pubsub/v2.Publisher":                     "PubSub.Publisher",
	"cloud.google.com/go/pubsub/v2.Subscriber":                    "PubSub.Subscriber",
}

// clientKinds reads the gcp.Clients struct: for each client field, its type
// ("<import path>.<Type>") → the field name (the kind). The struct itself
// is the kind "Clients".
func clientKinds(root, module string) (map[string]string, error) {
	dir := filepath.Join(root, clientsPkg)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("deploy.Scan: read the client set: %w", err)
	}
	kinds := map[string]string{module + "/" + clientsPkg + ".Clients": "Clients"}
	for k, v := range pubsubKinds {
		kinds[k] = v
	}
	found := false
	fset := token.NewFileSet()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("deploy.Scan: %w", err)
		}
		imports := importNames(f)
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || ts.Name.Name != "Clients" {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return false
			}
			found = true
			for _, fld := range st.Fields.List {
				if t := typeKey(fld.Type, imports, ""); t != "" {
					for _, name := range fld.Names {
						kinds[t] = name.Name
					}
				}
			}
			return false
		})
	}
	if !found {
		return nil, fmt.Errorf("deploy.Scan: no type Clients struct in %s", dir)
	}
	return kinds, nil
}

// importNames maps the names a file uses for its imports to their paths.
func importNames(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		name := ""
		if imp.Name != nil {
			name = imp.Name.Name
		} else {
			name = defaultImportName(path)
		}
		if name != "_" && name != "." {
			m[name] = path
		}
	}
	return m
}

var versionElem = regexp.MustCompile(`^(api)?v[0-9]+((alpha|beta)[0-9]*)?$`)

// defaultImportName guesses the package name of an unnamed import: the last
// path element that is not a version (cloud.google.com/go/compute/apiv1 is
// package compute, …/monitoring/apiv3/v2 is monitoring).
func defaultImportName(path string) string {
	elems := strings.Split(path, "/")
	for i := len(elems) - 1; i >= 0; i-- {
		if !versionElem.MatchString(elems[i]) {
			return strings.ReplaceAll(elems[i], "-", "_")
		}
	}
	return elems[len(elems)-1]
}

// typeKey is "<import path>.<Name>" for a (pointer to a) named type; local
// names resolve against localPath.
func typeKey(e ast.Expr, imports map[string]string, localPath string) string {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	switch t := e.(type) {
	case *ast.SelectorExpr:
		if x, ok := t.X.(*ast.Ident); ok {
			if p, ok := imports[x.Name]; ok {
				return p + "." + t.Sel.Name
			}
		}
	case *ast.Ident:
		if localPath != "" {
			return localPath + "." + t.Name
		}
	}
	return ""
}

type scanner struct {
	fset   *token.FileSet
	root   string
	module string
	dir    string
	kinds  map[string]string
	// fields: struct field name → kind, for every struct type in the
	// package with client-typed fields (name-based: x.pub is a Publisher
	// whatever x is).
	fields map[string]string
	// funcs: function or method name → kind of its first result, for the
	// package's functions that return a client (e.ClientsOf(account)).
	funcs map[string]string
}

func (s *scanner) localPath() string {
	if s.dir == "." {
		return s.module
	}
	return s.module + "/" + s.dir
}

func (s *scanner) kindOfType(e ast.Expr, imports map[string]string) string {
	return s.kinds[typeKey(e, imports, s.localPath())]
}

func (s *scanner) collectFields(f *ast.File) {
	imports := importNames(f)
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Type.Results != nil && len(fd.Type.Results.List) > 0 {
			if k := s.kindOfType(fd.Type.Results.List[0].Type, imports); k != "" {
				s.funcs[fd.Name.Name] = k
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		st, ok := n.(*ast.StructType)
		if !ok {
			return true
		}
		for _, fld := range st.Fields.List {
			if k := s.kindOfType(fld.Type, imports); k != "" {
				for _, name := range fld.Names {
					s.fields[name.Name] = k
				}
				if len(fld.Names) == 0 { // embedded
					s.fields[k] = k
				}
			}
		}
		return true
	})
}

// calls finds the client calls in one file. Each top-level declaration is a
// scope: identifiers get a kind from their declared type (parameters,
// receivers, var declarations) or from what they are assigned.
func (s *scanner) calls(f *ast.File) []CallSite {
	imports := importNames(f)
	pkgVars := map[string]string{}
	s.declare(f, imports, pkgVars, true)
	var out []CallSite
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok {
			continue
		}
		fn := symbol(fd)
		vars := map[string]string{}
		for k, v := range pkgVars {
			vars[k] = v
		}
		s.declare(fd, imports, vars, false)
		ast.Inspect(fd, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			kind := s.kindOf(sel.X, vars)
			if kind == "" || kind == "Clients" {
				return true
			}
			if kind == "PubSub" && (sel.Sel.Name == "Publisher" || sel.Sel.Name == "Subscriber") {
				return true // constructors: kindOf handles them
			}
			pos := s.fset.Position(call.Lparen)
			rel, _ := filepath.Rel(s.root, pos.Filename)
			rel = filepath.ToSlash(rel)
			out = append(out, CallSite{
				Pos:    fmt.Sprintf("%s:%d", rel, pos.Line),
				File:   rel,
				Dir:    s.dir,
				Func:   fn,
				Method: kind + "." + sel.Sel.Name,
			})
			return true
		})
	}
	return out
}

// declare records the kinds of the identifiers declared under n: typed
// parameters, receivers, results and vars, and assignments of client
// expressions (repeated until nothing changes, so chains resolve).
func (s *scanner) declare(n ast.Node, imports map[string]string, vars map[string]string, topOnly bool) {
	// One name may be assigned different kinds in different blocks (the
	// scanner has no block scopes), which would flip forever: chains are
	// short, so a few rounds resolve them.
	for range 8 {
		changed := false
		set := func(name, kind string) {
			if kind != "" && name != "_" && vars[name] != kind {
				vars[name] = kind
				changed = true
			}
		}
		ast.Inspect(n, func(m ast.Node) bool {
			if topOnly {
				if _, ok := m.(*ast.FuncDecl); ok {
					return false
				}
			}
			switch v := m.(type) {
			case *ast.Field:
				k := s.kindOfType(v.Type, imports)
				for _, name := range v.Names {
					set(name.Name, k)
				}
			case *ast.ValueSpec:
				k := ""
				if v.Type != nil {
					k = s.kindOfType(v.Type, imports)
				}
				for i, name := range v.Names {
					if k != "" {
						set(name.Name, k)
					} else if i < len(v.Values) {
						set(name.Name, s.kindOf(v.Values[i], vars))
					}
				}
			case *ast.AssignStmt:
				if len(v.Lhs) == len(v.Rhs) {
					for i, l := range v.Lhs {
						if id, ok := l.(*ast.Ident); ok {
							set(id.Name, s.kindOf(v.Rhs[i], vars))
						}
					}
				} else if len(v.Rhs) == 1 && len(v.Lhs) >= 1 {
					// x, err := f(): the first result.
					if id, ok := v.Lhs[0].(*ast.Ident); ok {
						set(id.Name, s.kindOf(v.Rhs[0], vars))
					}
				}
			}
			return true
		})
		if !changed {
			return
		}
	}
}

// kindOf resolves an expression to a client kind ("" when it is none).
func (s *scanner) kindOf(e ast.Expr, vars map[string]string) string {
	switch x := e.(type) {
	case *ast.ParenExpr:
		return s.kindOf(x.X, vars)
	case *ast.StarExpr:
		return s.kindOf(x.X, vars)
	case *ast.UnaryExpr:
		return s.kindOf(x.X, vars)
	case *ast.Ident:
		return vars[x.Name]
	case *ast.SelectorExpr:
		base := s.kindOf(x.X, vars)
		name := x.Sel.Name
		switch {
		case base == "Clients":
			for _, k := range s.kinds {
				if k == name {
					return k
				}
			}
			return ""
		case base == "PubSub" && (name == "TopicAdminClient" || name == "SubscriptionAdminClient"):
			return "PubSub." + name
		}
		return s.fields[name]
	case *ast.CallExpr:
		switch fn := x.Fun.(type) {
		case *ast.SelectorExpr:
			if s.kindOf(fn.X, vars) == "PubSub" {
				switch fn.Sel.Name {
				case "Publisher", "Subscriber":
					return "PubSub." + fn.Sel.Name
				}
			}
			return s.funcs[fn.Sel.Name]
		case *ast.Ident:
			return s.funcs[fn.Name]
		}
	}
	return ""
}

// symbol names a top-level function ("F") or method ("T.M").
func symbol(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
			continue
		case *ast.IndexExpr:
			t = x.X
			continue
		case *ast.IndexListExpr:
			t = x.X
			continue
		case *ast.Ident:
			return x.Name + "." + fd.Name.Name
		}
		return fd.Name.Name
	}
}

// refs is Package.Refs for one package's files.
func refs(files []*ast.File) map[string][]string {
	funcs := map[string]bool{}       // package-level function names
	methods := map[string][]string{} // method name → "T.M" symbols
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				if sym := symbol(fd); fd.Recv == nil {
					funcs[sym] = true
				} else {
					methods[fd.Name.Name] = append(methods[fd.Name.Name], sym)
				}
			}
		}
	}
	out := map[string][]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			seen := map[string]bool{}
			add := func(sym string) {
				if !seen[sym] {
					seen[sym] = true
					out[symbol(fd)] = append(out[symbol(fd)], sym)
				}
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.SelectorExpr:
					for _, m := range methods[x.Sel.Name] {
						add(m)
					}
					ast.Inspect(x.X, func(n ast.Node) bool {
						if id, ok := n.(*ast.Ident); ok && funcs[id.Name] {
							add(id.Name)
						}
						return true
					})
					return false
				case *ast.Ident:
					if funcs[x.Name] {
						add(x.Name)
					}
				}
				return true
			})
			sort.Strings(out[symbol(fd)])
		}
	}
	return out
}
