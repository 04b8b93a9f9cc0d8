package esxsim

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// esxField is one field of an esxcli result structure.
type esxField struct {
	name  string // as the default formatter shows it: "World ID"
	value any    // string, int64 or bool
}

// key is the field's name in the csv, keyvalue and xml formatters.
func (f esxField) key() string {
	return strings.NewReplacer(" ", "", "-", "").Replace(f.name)
}

func (f esxField) typ() string {
	switch f.value.(type) {
	case int64, int:
		return "integer"
	case bool:
		return "boolean"
	}
	return "string"
}

func (f esxField) text() string { return fmt.Sprint(f.value) }

// esxStruct is one structure of a result.
type esxStruct struct {
	typeName string
	fields   []esxField
	// header is shown above the fields by the default list formatter
	// (the VM's name, the device's id).
	header string
	// headerKey, when set, names a field holding header that only the
	// structured formatters (csv, keyvalue, xml) show: real esxcli prints a
	// device's id as the title of its block and as the Device field.
	headerKey string
}

// structured is the struct's fields as csv, keyvalue and xml show them:
// sorted by key, with the header field if it has one.
func (s esxStruct) structured() []esxField {
	fs := s.fields
	if s.headerKey != "" {
		fs = append(append([]esxField(nil), fs...), esxField{s.headerKey, s.header})
	}
	return sortedFields(fs)
}

// esxResult is what an esxcli command returns before formatting.
type esxResult struct {
	kind string // "struct", "list", "string", "none"
	// str is a "string" result (software acceptance get).
	str  string
	one  esxStruct
	list []esxStruct
	// table selects the default formatter for lists: a table (filesystem
	// list) or blocks of "   Field: value" lines (vm process list).
	table bool
}

func sortedFields(fs []esxField) []esxField {
	out := append([]esxField(nil), fs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

// render writes the result in the chosen formatter's layout.
func (r esxResult) render(w io.Writer, formatter string) error {
	if r.kind == "string" {
		if formatter == "xml" {
			fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<output xmlns=\"http://www.vmware.com/Products/ESX/5.0/esxcli\">\n<root>\n   <string>%s</string>\n</root>\n</output>\n", xmlEscape(r.str))
			return nil
		}
		fmt.Fprintln(w, r.str)
		return nil
	}
	switch formatter {
	case "", "default":
		r.renderDefault(w)
	case "csv":
		r.renderCSV(w)
	case "keyvalue":
		r.renderKeyValue(w)
	case "xml":
		r.renderXML(w)
	default:
		return fmt.Errorf("Invalid formatter: %s", formatter)
	}
	return nil
}

func (r esxResult) renderDefault(w io.Writer) {
	switch r.kind {
	case "struct":
		for _, f := range r.one.fields {
			fmt.Fprintf(w, "   %s: %s\n", f.name, f.text())
		}
	case "list":
		if r.table {
			renderTable(w, r.list)
			return
		}
		for i, s := range r.list {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintln(w, s.header)
			for _, f := range s.fields {
				fmt.Fprintf(w, "   %s: %s\n", f.name, f.text())
			}
		}
	}
}

// renderTable is esxcli's table: columns as wide as their widest cell,
// two spaces apart, strings left-aligned, numbers and booleans right.
func renderTable(w io.Writer, list []esxStruct) {
	if len(list) == 0 {
		return
	}
	cols := list[0].fields
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = len(c.name)
		for _, s := range list {
			widths[i] = max(widths[i], len(s.fields[i].text()))
		}
	}
	right := func(i int) bool { return cols[i].typ() != "string" }
	line := func(cells []string) string {
		var parts []string
		for i, c := range cells {
			switch {
			case right(i):
				parts = append(parts, fmt.Sprintf("%*s", widths[i], c))
			case i == len(cells)-1:
				parts = append(parts, c)
			default:
				parts = append(parts, fmt.Sprintf("%-*s", widths[i], c))
			}
		}
		return strings.Join(parts, "  ")
	}
	var hdr, dash []string
	for i, c := range cols {
		hdr = append(hdr, c.name)
		dash = append(dash, strings.Repeat("-", widths[i]))
	}
	fmt.Fprintln(w, line(hdr))
	fmt.Fprintln(w, strings.Join(dash, "  "))
	for _, s := range list {
		var cells []string
		for _, f := range s.fields {
			cells = append(cells, f.text())
		}
		fmt.Fprintln(w, line(cells))
	}
}

func csvCell(s string) string {
	if strings.ContainsAny(s, ",\"\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// renderCSV is esxcli --formatter=csv: keys sorted, a trailing comma on
// every line.
func (r esxResult) renderCSV(w io.Writer) {
	rows := r.list
	if r.kind == "struct" {
		rows = []esxStruct{r.one}
	}
	if len(rows) == 0 {
		return
	}
	var hdr strings.Builder
	for _, f := range rows[0].structured() {
		hdr.WriteString(f.key() + ",")
	}
	fmt.Fprintln(w, hdr.String())
	for _, s := range rows {
		var b strings.Builder
		for _, f := range s.structured() {
			b.WriteString(csvCell(f.text()) + ",")
		}
		fmt.Fprintln(w, b.String())
	}
}

// renderKeyValue is esxcli --formatter=keyvalue: Type.Key.type=value,
// list elements prefixed structure[N].
func (r esxResult) renderKeyValue(w io.Writer) {
	if r.kind == "struct" {
		for _, f := range r.one.structured() {
			fmt.Fprintf(w, "%s.%s.%s=%s\n", r.one.typeName, f.key(), f.typ(), f.text())
		}
		return
	}
	for i, s := range r.list {
		for _, f := range s.structured() {
			fmt.Fprintf(w, "structure[%d].%s.%s.%s=%s\n", i, s.typeName, f.key(), f.typ(), f.text())
		}
	}
}

func (r esxResult) renderXML(w io.Writer) {
	fmt.Fprintln(w, `<?xml version="1.0" encoding="utf-8"?>`)
	fmt.Fprintln(w, `<output xmlns="http://www.vmware.com/Products/ESX/5.0/esxcli">`)
	fmt.Fprintln(w, `<root>`)
	structXML := func(s esxStruct, ind string) {
		fmt.Fprintf(w, "%s<structure typeName=\"%s\">\n", ind, s.typeName)
		for _, f := range s.structured() {
			fmt.Fprintf(w, "%s   <field name=\"%s\">\n%s      <%s>%s</%s>\n%s   </field>\n", ind, f.key(), ind, f.typ(), xmlEscape(f.text()), f.typ(), ind)
		}
		fmt.Fprintf(w, "%s</structure>\n", ind)
	}
	switch r.kind {
	case "struct":
		structXML(r.one, "   ")
	case "list":
		fmt.Fprintln(w, `   <list type="structure">`)
		for _, s := range r.list {
			structXML(s, "      ")
		}
		fmt.Fprintln(w, `   </list>`)
	case "none":
		fmt.Fprintln(w, `   <boolean>true</boolean>`)
	}
	fmt.Fprintln(w, `</root>`)
	fmt.Fprintln(w, `</output>`)
}
