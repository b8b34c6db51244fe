package sqlstore

// SetMaxIndexedText makes the store index texts up to n bytes, as a
// version before the rule did, until restore is called.
func SetMaxIndexedText(n int) (restore func()) {
	was := maxIndexedText
	maxIndexedText = n
	return func() { maxIndexedText = was }
}
