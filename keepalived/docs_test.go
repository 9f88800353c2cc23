package keepalived

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestDocsListEveryDirective checks that the mapping table of
// docs/keepalived.md names, in backquotes, every keepalived directive
// and virtual_ipaddress option the converter knows, so that the page
// says what each becomes.
func TestDocsListEveryDirective(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "keepalived.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(data), "\n## Directive by directive\n")
	if !ok {
		t.Fatal("docs/keepalived.md has no section \"Directive by directive\"")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(table, -1) {
		named[m[1]] = true
	}
	tables := map[string][]string{
		"top level":         keys(topDirectives),
		"global_defs":       keys(globalDirectives),
		"vrrp_instance":     keys(instanceDirectives),
		"vrrp_script":       keys(scriptDirectives),
		"vrrp_sync_group":   keys(groupDirectives),
		"virtual_ipaddress": keys(vipOptions),
	}
	for block, ks := range tables {
		for _, k := range ks {
			if !named[k] {
				t.Errorf("%s directive `%s` is not in the table of docs/keepalived.md", block, k)
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
