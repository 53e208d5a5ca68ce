package engine

import (
	"go/ast"
	goparser "go/parser"
	gotoken "go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	sqlKeyword  = regexp.MustCompile(`(?i)\b(SELECT|EXEC|EXECUTE|RESTORE|BACKUP|ALTER|INSERT|UPDATE|DELETE)\b`)
	placeholder = regexp.MustCompile(`\{[a-zA-Z_]+\}|%[a-z]`)
	spaces      = regexp.MustCompile(`\s+`)
)

// minFragment is the shortest probe SQL fragment checked: shorter ones ("SELECT 1") are too
// generic to say anything about where they came from.
const minFragment = 24

func normalizeSQL(s string) string {
	return strings.ToLower(strings.TrimSpace(spaces.ReplaceAllString(s, " ")))
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// probeSQL returns the SQL fragments of every string literal in probes/ (non-test .go files) and of
// every .sql file there, split at template placeholders.
func probeSQL(t *testing.T, dir string) []string {
	t.Helper()
	var texts []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return nil
		case strings.HasSuffix(path, ".sql"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			texts = append(texts, strings.Split(string(b), ";")...)
		case strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go"):
			f, err := goparser.ParseFile(gotoken.NewFileSet(), path, nil, goparser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == gotoken.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						texts = append(texts, s)
					}
				}
				return true
			})
		}
		return nil
	})
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("read probes: %v", err)
	}
	var frags []string
	for _, s := range texts {
		if !sqlKeyword.MatchString(s) {
			continue
		}
		for _, part := range placeholder.Split(s, -1) {
			if n := normalizeSQL(part); len(n) >= minFragment {
				frags = append(frags, n)
			}
		}
	}
	return frags
}

// TestLabIsNotTaughtProbeQueries fails if any SQL text from probes/ appears anywhere in pkg/lab: the
// lab must answer queries by evaluating them, never by recognising the controller's strings.
func TestLabIsNotTaughtProbeQueries(t *testing.T) {
	root := repoRoot(t)
	frags := probeSQL(t, filepath.Join(root, "probes"))
	if len(frags) == 0 {
		t.Skip("no SQL in probes/ yet")
	}
	recipes, err := os.ReadFile(filepath.Join("testdata", "documented_recipes.sql"))
	if err != nil {
		t.Fatal(err)
	}
	documented := normalizeSQL(string(recipes))
	kept := frags[:0]
	for _, f := range frags {
		if strings.Contains(documented, f) {
			t.Logf("exempt (verbatim in the documented recipes): %q", f)
			continue
		}
		kept = append(kept, f)
	}
	frags = kept
	t.Logf("checking %d probe SQL fragments", len(frags))
	err = filepath.WalkDir(filepath.Join(root, "pkg", "lab"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		text := normalizeSQL(string(b))
		for _, f := range frags {
			if strings.Contains(text, f) {
				t.Errorf("%s contains SQL from probes/: %q", path, f)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestProbeSQLExtraction(t *testing.T) {
	dir := t.TempDir()
	src := "package probes\n\nconst q = `SELECT d.name, d.state_desc\nFROM sys.databases AS d WHERE d.name IN ({names});`\nconst notSQL = \"just a long string without any keyword in it\"\n"
	if err := os.WriteFile(filepath.Join(dir, "q.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x.sql"), []byte("SELECT redo_start_lsn FROM sys.master_files;\nSELECT 1;"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := probeSQL(t, dir)
	want := map[string]bool{
		"select d.name, d.state_desc from sys.databases as d where d.name in (": true,
		"select redo_start_lsn from sys.master_files":                           true,
	}
	if len(got) != len(want) {
		t.Fatalf("fragments %q", got)
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("unexpected fragment %q", g)
		}
	}
}
