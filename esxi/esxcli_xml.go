package esxi

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// ParseXML parses esxcli --formatter=xml output:
//
//	<output xmlns="http://www.vmware.com/Products/ESX/5.0/esxcli/">
//	 <list type="structure">
//	  <structure typeName="VmProcess">
//	   <field name="Config File"><string>/vmfs/...</string></field>
//
// Each outermost structure becomes a record; a field holding a list of
// scalars is joined with ","; a field holding a structure is left empty.
func ParseXML(out string) ([]Record, error) {
	d := xml.NewDecoder(strings.NewReader(out))
	var recs []Record
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return nil, xmlErr(err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "structure" {
			rec, err := readStructure(d)
			if err != nil {
				return nil, xmlErr(err)
			}
			recs = append(recs, rec)
		}
	}
}

func readStructure(d *xml.Decoder) (Record, error) {
	rec := Record{}
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, eofIsError(err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return rec, nil
		case xml.StartElement:
			if t.Name.Local != "field" {
				if err := d.Skip(); err != nil {
					return nil, err
				}
				continue
			}
			name := ""
			for _, a := range t.Attr {
				if a.Name.Local == "name" {
					name = strings.TrimSpace(a.Value)
				}
			}
			v, err := readField(d)
			if err != nil {
				return nil, err
			}
			if name != "" {
				rec[name] = v
			}
		}
	}
}

// readField reads a field's value up to </field>.
func readField(d *xml.Decoder) (string, error) {
	var vals []string
	for {
		tok, err := d.Token()
		if err != nil {
			return "", eofIsError(err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return strings.Join(vals, ","), nil
		case xml.StartElement:
			switch t.Name.Local {
			case "structure":
				if err := d.Skip(); err != nil {
					return "", err
				}
			case "list":
				items, err := readList(d)
				if err != nil {
					return "", err
				}
				vals = append(vals, items...)
			default:
				s, err := readText(d)
				if err != nil {
					return "", err
				}
				vals = append(vals, s)
			}
		}
	}
}

// readList reads the scalars of a list up to </list>; nested structures and
// lists are skipped.
func readList(d *xml.Decoder) ([]string, error) {
	var items []string
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, eofIsError(err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return items, nil
		case xml.StartElement:
			if t.Name.Local == "structure" || t.Name.Local == "list" {
				if err := d.Skip(); err != nil {
					return nil, err
				}
				continue
			}
			s, err := readText(d)
			if err != nil {
				return nil, err
			}
			items = append(items, s)
		}
	}
}

// readText returns the character data up to the end of the current element,
// skipping any element nested in it.
func readText(d *xml.Decoder) (string, error) {
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return "", eofIsError(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.StartElement:
			if err := d.Skip(); err != nil {
				return "", err
			}
		case xml.EndElement:
			return strings.TrimSpace(b.String()), nil
		}
	}
}

func eofIsError(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func xmlErr(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return parseErr("esxcli xml", se.Line, "%s", se.Msg)
	}
	return parseErr("esxcli xml", 0, "%v", err)
}

// ParseKeyValue parses esxcli --formatter=keyvalue output: one
// "Type.Field.kind=value" line per field (VersionGet.Build.string=...). A
// record ends at a blank line or when a field repeats; a list field
// (kind "string[]") may repeat and its values are joined with ",".
func ParseKeyValue(out string) ([]Record, error) {
	const src = "esxcli keyvalue"
	var recs []Record
	var cur Record
	for i, l := range lines(out) {
		if strings.TrimSpace(l) == "" {
			cur = nil
			continue
		}
		key, val, ok := strings.Cut(l, "=")
		first := strings.IndexByte(key, '.')
		last := strings.LastIndexByte(key, '.')
		if !ok || first < 0 || first == last || first+1 == last {
			return nil, parseErr(src, i+1, "%q is not Type.Field.kind=value", clip(l))
		}
		field, kind := key[first+1:last], key[last+1:]
		list := strings.HasSuffix(kind, "[]")
		if prev, dup := cur[field]; dup {
			if list {
				cur[field] = prev + "," + val
				continue
			}
			cur = nil
		}
		if cur == nil {
			cur = Record{}
			recs = append(recs, cur)
		}
		cur[field] = val
	}
	return recs, nil
}
