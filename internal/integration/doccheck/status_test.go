package doccheck

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hookkit/hookkit/dispatch"
)

// statusRow is a row of README.md's status table:
// | `outcome` | situation | status | sender retries? |
var statusRow = regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\| [^|]+ \\| ([0-9]{3})[^|]* \\| (yes|no) \\|$")

// TestReadmeStatusTable keeps README.md's status table and dispatch's
// Outcomes the same: one row per Outcome, with its status, and "retries"
// exactly when the sender is not told the event is taken care of.
func TestReadmeStatusTable(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	start := strings.Index(section, "## Status codes")
	if start < 0 {
		t.Fatal("README.md has no status table")
	}
	section = section[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	rows := map[string][2]string{}
	for _, m := range statusRow.FindAllStringSubmatch(section, -1) {
		if _, dup := rows[m[1]]; dup {
			t.Errorf("outcome %s has two rows", m[1])
		}
		rows[m[1]] = [2]string{m[2], m[3]}
	}
	for _, o := range dispatch.Outcomes() {
		row, ok := rows[o.String()]
		if !ok {
			t.Errorf("README.md's status table has no row for %s", o)
			continue
		}
		delete(rows, o.String())
		if row[0] != strconv.Itoa(o.Status()) {
			t.Errorf("%s: README says %s, the Endpoint answers %d", o, row[0], o.Status())
		}
		retries := "no"
		if o.Status() >= 300 && (o.Status() >= 500 || o.Status() == 408 || o.Status() == 409) {
			retries = "yes"
		}
		if row[1] != retries {
			t.Errorf("%s: README says the sender retries: %s; status %d means %s", o, row[1], o.Status(), retries)
		}
	}
	for name := range rows {
		t.Errorf("README.md's status table has a row for %s, which is not a dispatch.Outcome", name)
	}
}
