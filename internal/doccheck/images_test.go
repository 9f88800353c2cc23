package doccheck

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const repo = "../.."

// image is a Markdown image, ![alt](target "title").
var image = regexp.MustCompile(`!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)

// fence opens or closes a fenced code block, whose text is no Markdown.
var fence = regexp.MustCompile("^\\s*(```|~~~)")

// imageProblems checks every image the Markdown file md shows: a local
// one must exist, and an .svg must be an SVG document (XML whose root is
// <svg>). Remote images are not fetched.
func imageProblems(md string) ([]string, error) {
	data, err := os.ReadFile(md)
	if err != nil {
		return nil, err
	}
	var problems []string
	inCode := false
	for i, line := range strings.Split(string(data), "\n") {
		if fence.MatchString(line) {
			inCode = !inCode
			continue
		}
		if inCode {
			continue
		}
		for _, m := range image.FindAllStringSubmatch(line, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "data:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			p := filepath.Join(filepath.Dir(md), filepath.FromSlash(target))
			if err := checkImage(p); err != nil {
				problems = append(problems, fmt.Sprintf("%s:%d: %s: %v", md, i+1, m[1], err))
			}
		}
	}
	return problems, nil
}

func checkImage(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if !strings.EqualFold(filepath.Ext(p), ".svg") {
		return nil
	}
	return checkSVG(f)
}

// checkSVG reads a whole XML document and wants <svg> in the SVG
// namespace as its root.
func checkSVG(r io.Reader) error {
	d := xml.NewDecoder(r)
	root := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("not XML: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok && !root {
			root = true
			if se.Name.Local != "svg" || se.Name.Space != "http://www.w3.org/2000/svg" {
				return fmt.Errorf("root element is <%s> in namespace %q, want <svg> in http://www.w3.org/2000/svg", se.Name.Local, se.Name.Space)
			}
		}
	}
	if !root {
		return errors.New("no root element")
	}
	return nil
}

// TestImages: every picture the README and docs/ show is there and, if
// an SVG, one.
func TestImages(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := append([]string{filepath.Join(repo, "README.md")}, docs...)
	if len(docs) == 0 {
		t.Fatal("no docs/*.md")
	}
	shown := 0
	for _, md := range files {
		problems, err := imageProblems(md)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Error(p)
		}
		data, _ := os.ReadFile(md)
		shown += len(image.FindAll(data, -1))
	}
	if shown == 0 {
		t.Error("no image found in the documentation: is the pattern right?")
	}
}

func TestImageProblems(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("img/good.svg", `<?xml version="1.0"?>`+"\n"+`<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><rect width="1" height="1"/></svg>`)
	write("img/html.svg", `<html><body>404</body></html>`)
	write("img/cut.svg", `<svg xmlns="http://www.w3.org/2000/svg"><rect`)
	write("img/lfs.svg", "version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n")
	write("img/a.png", "\x89PNG")
	write("doc.md", "# Doc\n\n"+
		"![good](img/good.svg)\n"+
		"![good, with a title](img/good.svg \"Title\")\n"+
		"![png](img/a.png)\n"+
		"![remote](https://example.org/x.svg)\n"+
		"```\n![in code](img/none.svg)\n```\n"+
		"![missing](img/false.svg)\n"+
		"![html](img/html.svg) and ![cut](img/cut.svg)\n"+
		"![lfs](img/lfs.svg)\n")
	got, err := imageProblems(filepath.Join(dir, "doc.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		":10: img/false.svg: open ",
		":11: img/html.svg: root element is <html>",
		":11: img/cut.svg: not XML",
		":12: img/lfs.svg: no root element",
	}
	if len(got) != len(want) {
		t.Fatalf("problems:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("problem %d: %q, want one containing %q", i, got[i], want[i])
		}
	}
}
