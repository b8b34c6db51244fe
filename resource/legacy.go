package resource

import (
	"google.golang.org/protobuf/proto"

	borderv1 "github.com/provex/provex/gen/go/provex/border/v1"
)

// Decode unmarshals a record's stored state and brings values an earlier
// schema wrote up to date. A stored state cannot be rewritten: it is the
// payload of a signed change-log entry, its origin's and possibly another
// version's, so old values are mapped each time one is read, and every
// reader (Get, List, the index columns of a synced record) decodes here.
func (k *Kind) Decode(data []byte) (proto.Message, error) {
	m := k.New()
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, err
	}
	if g, ok := m.(*borderv1.BorderGate); ok {
		upgradeBorderGate(g)
	}
	return m, nil
}

// legacyBilateral is the number BorderGate.Level.LEVEL_BILATERAL had
// before it became an alias of LEVEL_MAIN: the decree's main and bilateral
// gates are one category.
const legacyBilateral borderv1.BorderGate_Level = 3

func upgradeBorderGate(g *borderv1.BorderGate) {
	level := func(l *borderv1.BorderGate_Level) {
		if *l == legacyBilateral {
			*l = borderv1.BorderGate_LEVEL_MAIN
		}
	}
	level(&g.Level)
	level(&g.CounterpartLevel)
	for _, u := range g.GetUpgrades() {
		level(&u.FromLevel)
		level(&u.ToLevel)
	}
}
