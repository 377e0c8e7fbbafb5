package main

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestJSONHelp: "posixshm help json" names every field that ls, stat and
// gc print (the JSON tags of their records, nested ones included), so the
// documentation cannot fall behind the output.
func TestJSONHelp(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] || typ.PkgPath() != reflect.TypeFor[objectJSON]().PkgPath() {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.Anonymous {
				walk(f.Type)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if !regexp.MustCompile(`(^|[\s(,{"])` + name + `($|[\s),:"])`).MatchString(jsonHelp) {
				t.Errorf("%s.%s: JSON field %q is not in \"posixshm help json\"", typ.Name(), f.Name, name)
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[statReport]())
	walk(reflect.TypeFor[gcEntry]())
	if len(seen) < 6 {
		t.Fatalf("walked %d record types, want objectJSON, segmentReport, usersJSON, procJSON, semJSON, gcEntry...", len(seen))
	}
}

// TestHelpTopic: "posixshm help json" prints the JSON documentation.
func TestHelpTopic(t *testing.T) {
	var out, errs strings.Builder
	if code := run([]string{"help", "json"}, &out, &errs); code != exitOK || out.String() != jsonHelp || errs.Len() != 0 {
		t.Errorf("help json: status %d, %d bytes out, stderr %q", code, out.Len(), errs.String())
	}
}
