package doccheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// exportsFile is the reviewed list of every exported identifier of every
// hookkit package a host can import (internal packages and commands
// aside): "<import path> <Name>" or "<import path> <Type>.<Method>".
const exportsFile = "exports.txt"

// TestExportsAreReviewed fails when a package exports an identifier that
// is not in exports.txt, or the list names one that is gone: a new export
// is a deliberate change, made by running the test with
// HOOKKIT_UPDATE_EXPORTS=1 and committing the list it writes.
func TestExportsAreReviewed(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{.Dir}}", "work").Output()
	if err != nil {
		t.Fatalf("go list work: %v", err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, dir, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(path, "github.com/hookkit/hookkit") || strings.Contains(path, "/internal") ||
			strings.HasPrefix(path, "github.com/hookkit/hookkit/examples") {
			continue
		}
		for _, name := range exported(t, dir) {
			got = append(got, path+" "+name)
		}
	}
	slices.Sort(got)
	got = slices.Compact(got)
	if os.Getenv("HOOKKIT_UPDATE_EXPORTS") == "1" {
		if err := os.WriteFile(exportsFile, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	text, err := os.ReadFile(exportsFile)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(text)), "\n")
	for _, name := range got {
		if _, found := slices.BinarySearch(want, name); !found {
			t.Errorf("a new export, not in %s: %s (review it; HOOKKIT_UPDATE_EXPORTS=1 rewrites the list)", exportsFile, name)
		}
	}
	for _, name := range want {
		if _, found := slices.BinarySearch(got, name); !found {
			t.Errorf("%s lists %s, which is no longer exported", exportsFile, name)
		}
	}
}

// exported returns the exported top-level names, methods, struct fields
// and interface methods of the non-test files in dir.
func exported(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv == nil {
					names = append(names, d.Name.Name)
				} else if recv := receiver(d.Recv.List[0].Type); ast.IsExported(recv) {
					names = append(names, recv+"."+d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							names = append(names, s.Name.Name)
							names = append(names, members(s)...)
						}
					case *ast.ValueSpec:
						for _, id := range s.Names {
							if id.IsExported() {
								names = append(names, id.Name)
							}
						}
					}
				}
			}
		}
	}
	return names
}

// members names the exported fields of a struct type and the methods (and
// embedded interfaces) of an interface type, as T.Name: a field or a
// method more is a change to the API as much as a new function.
func members(s *ast.TypeSpec) []string {
	var list *ast.FieldList
	switch t := s.Type.(type) {
	case *ast.StructType:
		list = t.Fields
	case *ast.InterfaceType:
		list = t.Methods
	default:
		return nil
	}
	var names []string
	for _, f := range list.List {
		if len(f.Names) == 0 { // embedded
			if name := receiver(f.Type); ast.IsExported(name) {
				names = append(names, s.Name.Name+"."+name)
			} else if sel, ok := f.Type.(*ast.SelectorExpr); ok {
				names = append(names, s.Name.Name+"."+sel.Sel.Name)
			}
			continue
		}
		for _, id := range f.Names {
			if id.IsExported() {
				names = append(names, s.Name.Name+"."+id.Name)
			}
		}
	}
	return names
}

// receiver names a method's receiver type: T, *T, T[X], *T[X, Y].
func receiver(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return receiver(e.X)
	case *ast.IndexExpr:
		return receiver(e.X)
	case *ast.IndexListExpr:
		return receiver(e.X)
	case *ast.Ident:
		return e.Name
	}
	return ""
}
