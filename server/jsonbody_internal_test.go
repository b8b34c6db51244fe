package server

import (
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// TestBodyFieldsNamedAfterTheirMessage: bodyJSON names a body's fields
// under the request field named after the body's message; every HTTP rule
// of provex's services must keep to that.
func TestBodyFieldsNamedAfterTheirMessage(t *testing.T) {
	rules := 0
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "provex.") {
			return true
		}
		for i := 0; i < fd.Services().Len(); i++ {
			methods := fd.Services().Get(i).Methods()
			for j := 0; j < methods.Len(); j++ {
				m := methods.Get(j)
				rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
				if rule.GetBody() == "" || rule.GetBody() == "*" {
					continue
				}
				rules++
				field := m.Input().Fields().ByName(protoreflect.Name(rule.GetBody()))
				if field == nil || field.Message() == nil || snakeCase(string(field.Message().Name())) != rule.GetBody() {
					t.Errorf("%s: body %q is not a field named after its message", m.FullName(), rule.GetBody())
				}
			}
		}
		return true
	})
	if rules == 0 {
		t.Fatal("no HTTP rule with a body field found")
	}
}

// TestPastElements: the elements of JSON lists are counted at every depth,
// scalars, objects and lists alike, and not what strings or objects hold
// of commas and brackets.
func TestPastElements(t *testing.T) {
	for _, c := range []struct {
		json  string
		limit int
		at    int
	}{
		{`{"a": [1, 2, 3]}`, 3, -1},
		{`{"a": [1, 2, 3]}`, 2, 13},
		{`{"a": [{"b": [true]}, "x,]", []]}`, 4, -1},
		{`{"a": [{"b": [true]}, "x,]", []]}`, 3, 29},
		{`{"a": 1, "b": {"c": 2}, "d": "[[[,,,"}`, 0, -1},
		{`[10, -2.5e3]`, 1, 5},
		{`{"a": ["\"[", "b"]}`, 1, 14},
	} {
		if at := pastElements([]byte(c.json), c.limit); at != c.at {
			t.Errorf("pastElements(%s, %d) = %d, want %d", c.json, c.limit, at, c.at)
		}
	}
}
