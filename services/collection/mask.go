package collection

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/provex/provex/internal/apperr"
	"github.com/provex/provex/resource"
)

// updatePaths returns the paths an Update changes, each split into field
// names, following AIP-134 on gRPC and HTTP alike (the gateway passes a
// PATCH's mask through and derives none):
//
//   - no mask (or an empty one): the top-level fields populated in res. A
//     message field counts whole. Output-only fields are left out, not
//     refused: clients echo name and etag (the etag is the concurrency
//     check). A proto3 field at its zero value is not populated, so
//     clearing a field takes a mask that names it.
//   - "*": every writable top-level field, so fields unset in res are
//     cleared (AIP-161: output-only fields under a wildcard are ignored).
//   - named paths: those fields, nested ones included. Naming an
//     output-only field is refused, since the update could not do what the
//     mask asks.
func updatePaths(k *resource.Kind, res protoreflect.Message, mask *fieldmaskpb.FieldMask) ([][]protoreflect.FieldDescriptor, error) {
	md := k.Message.Descriptor()
	paths := mask.GetPaths()
	if len(paths) == 0 {
		var present [][]protoreflect.FieldDescriptor
		res.Range(func(f protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			if !k.OutputOnly(f.Name()) {
				present = append(present, []protoreflect.FieldDescriptor{f})
			}
			return true
		})
		return present, nil
	}
	if len(paths) == 1 && paths[0] == "*" {
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
				return nil, apperr.Invalid("update_mask", "%s: %s is not a message", apperr.Quote(p), chain[i-1].Name())
			}
			f := cur.Fields().ByName(protoreflect.Name(seg))
			if f == nil {
				return nil, apperr.Invalid("update_mask", "%s: no field %s in %s", apperr.Quote(p), apperr.Quote(seg), cur.Name())
			}
			if i == 0 && k.OutputOnly(f.Name()) {
				return nil, apperr.Invalid("update_mask", "%s is output only: the server sets it, so an update cannot; leave it out of the mask", apperr.Quote(p))
			}
			chain = append(chain, f)
			cur = nil
			if f.Message() != nil && !f.IsList() && !f.IsMap() {
				cur = f.Message()
			}
		}
		out = append(out, chain)
	}
	return out, nil
}

// applyMask copies the masked fields from src into dst; a field unset in src
// is cleared in dst. The messages on a path are made in dst when src holds
// them, as sent (location {} with its latitude and longitude masked is the
// point 0,0, set). Clearing a field inside a message neither holds leaves
// that message absent: making it empty would change the record (a new
// version, a new etag, an entry synced to every node) when nothing in it
// changed (an outside review).
func applyMask(dst, src protoreflect.Message, paths [][]protoreflect.FieldDescriptor) {
	for _, chain := range paths {
		parents, leaf := chain[:len(chain)-1], chain[len(chain)-1]
		s := src
		for _, f := range parents {
			if s == nil || !s.Has(f) {
				s = nil
				break
			}
			s = s.Get(f).Message()
		}
		d := dst
		if s != nil {
			for _, f := range parents {
				d = d.Mutable(f).Message()
			}
			if s.Has(leaf) {
				d.Set(leaf, s.Get(leaf))
			} else {
				d.Clear(leaf)
			}
			continue
		}
		for _, f := range parents {
			if d == nil || !d.Has(f) {
				d = nil
				break
			}
			d = d.Mutable(f).Message()
		}
		if d != nil {
			d.Clear(leaf)
		}
	}
}
