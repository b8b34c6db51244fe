package collection

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/resource"
)

// maskPaths checks an update mask against the kind's message and returns its
// paths, each split into field names. An empty mask or "*" means every
// writable top-level field. Output-only fields are ignored (AIP-161).
func maskPaths(k *resource.Kind, mask *fieldmaskpb.FieldMask) ([][]protoreflect.FieldDescriptor, error) {
	md := k.Message.Descriptor()
	paths := mask.GetPaths()
	if len(paths) == 0 || (len(paths) == 1 && paths[0] == "*") {
		var all [][]protoreflect.FieldDescriptor
		fields := md.Fields()
		for i := 0; i < fields.Len(); i++ {
			if f := fields.Get(i); !k.OutputOnly(f.Name()) {
				all = append(all, []protoreflect.FieldDescriptor{f})
			}
		}
		return all, nil
	}
	out := make([][]protoreflect.FieldDescriptor, 0, len(paths))
	for _, p := range paths {
		if p == "*" {
			return nil, apperr.Invalid("update_mask", `"*" must be the only path`)
		}
		var chain []protoreflect.FieldDescriptor
		cur := md
		for i, seg := range strings.Split(p, ".") {
			if cur == nil {
				return nil, apperr.Invalid("update_mask", "%q: %s is not a message", p, chain[i-1].Name())
			}
			f := cur.Fields().ByName(protoreflect.Name(seg))
			if f == nil {
				return nil, apperr.Invalid("update_mask", "%q: no field %q in %s", p, seg, cur.Name())
			}
			chain = append(chain, f)
			cur = nil
			if f.Message() != nil && !f.IsList() && !f.IsMap() {
				cur = f.Message()
			}
		}
		if len(chain) == 1 && k.OutputOnly(chain[0].Name()) {
			continue
		}
		out = append(out, chain)
	}
	return out, nil
}

// applyMask copies the masked fields from src into dst; a field unset in src
// is cleared in dst.
func applyMask(dst, src protoreflect.Message, paths [][]protoreflect.FieldDescriptor) {
	for _, chain := range paths {
		d, s := dst, src
		for _, f := range chain[:len(chain)-1] {
			d = d.Mutable(f).Message()
			if s != nil && s.Has(f) {
				s = s.Get(f).Message()
			} else {
				s = nil
			}
		}
		leaf := chain[len(chain)-1]
		if s != nil && s.Has(leaf) {
			d.Set(leaf, s.Get(leaf))
		} else {
			d.Clear(leaf)
		}
	}
}
