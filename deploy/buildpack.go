package deploy

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The Go functions buildpack (github.com/GoogleCloudPlatform/buildpacks,
// cmd/go/functions_framework) turns the uploaded source into an app: it
// reads the package clause and imports of the *.go files at the ROOT of the
// upload, imports "<module>/<name>" if a directory named like the package
// exists at the root and "<module>" otherwise, and writes main.go into
// <source>/functions.local/app from one of its templates — the declarative
// one (a blank import and funcframework.Start; FUNCTION_TARGET picks the
// function) when the root package imports the framework's functions
// package. BuildpackMain reproduces those steps so a test can build what
// Cloud Build would.

const (
	frameworkFunctions = "github.com/GoogleCloudPlatform/functions-framework-go/functions"
	// BuildpackAppDir is where the buildpack writes its main package.
	BuildpackAppDir = "functions.local/app"
)

// BuildpackMain returns the import path of the function package the
// buildpack would pick in source and the main.go it would generate.
func BuildpackMain(source string) (pkgPath, mainGo string, err error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(source)
	if err != nil {
		return "", "", err
	}
	name := ""
	imports := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(source, e.Name()), nil, parser.ImportsOnly)
		if err != nil {
			return "", "", fmt.Errorf("buildpack: %w", err)
		}
		if name != "" && f.Name.Name != name {
			return "", "", fmt.Errorf("buildpack: multiple packages in user code directory: %s != %s", name, f.Name.Name)
		}
		name = f.Name.Name
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			imports[p] = true
		}
	}
	if name == "" {
		return "", "", fmt.Errorf("buildpack: unable to find Go package in %s: the function package must be at the root of the uploaded source", source)
	}
	if name == "main" {
		return "", "", fmt.Errorf("buildpack: the root package of %s is main; a function package cannot be main", source)
	}
	module, err := modulePath(source)
	if err != nil {
		return "", "", err
	}
	if strings.Contains(strings.SplitN(module, "/", 2)[0], ".") {
		pkgPath = module
	} else {
		return "", "", fmt.Errorf("buildpack: the module path %s must contain a dot in its first element", module)
	}
	if fi, err := os.Stat(filepath.Join(source, name)); err == nil && fi.IsDir() {
		pkgPath = module + "/" + name
	}
	if !imports[frameworkFunctions] {
		return "", "", fmt.Errorf("buildpack: the root package does not import %s: the buildpack would use its non-declarative template, which needs an exported function at the root", frameworkFunctions)
	}
	mainGo = `// Binary main file implements an HTTP server that loads and runs user's code
// on incoming HTTP requests.
package main

import (
	"log"
	"net/http"
	"os"

	_ "` + pkgPath + `"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

func main() {
	http.HandleFunc("/robots.txt", http.NotFound)
	http.HandleFunc("/favicon.ico", http.NotFound)

	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("Function failed to start: %v\n", err)
	}
}
`
	return pkgPath, mainGo, nil
}
