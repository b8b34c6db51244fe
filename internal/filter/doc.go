// Package filter parses the AIP-160 subset provex accepts in List filters and order_by, checks it against a resource's documented fields and compiles it to SQL over index columns.
//
// A [Schema] names the fields of a resource message that may appear in
// filters and order_by. The same Schema encodes a message's field values
// into column values ([Field.Values]) and converts filter literals, so that
// what is stored and what is compared always use one encoding:
//
//	String     TEXT, the string itself (compared bytewise, so columns must use the BINARY collation)
//	Int        INTEGER; uint64 values above MaxInt64 wrap, which keeps = and != exact but not ordering
//	Bool       INTEGER 0 or 1
//	Enum       INTEGER, the enum number
//	Date       INTEGER year*10000 + month*100 + day; 0 when unset, so unset sorts first
//	Timestamp  INTEGER Unix nanoseconds; 0 when unset, so unset compares as 1970-01-01T00:00:00Z
//
// Repeated string and enum fields, and string and enum fields reached
// through one repeated message field ("foreign_parties.subdivision": the
// set values of each element), live in a side table
// record_elements(list, value, record) with one TEXT row per distinct
// element, list being ListID of the kind and the field's path; repeated
// enums store the value's full NAME there.
//
// # Filter grammar
//
// The grammar follows https://google.aip.dev/160, without functions,
// member access on values, or global (field-less) restrictions:
//
//	filter      = [ expression ]
//	expression  = sequence { "AND" sequence }
//	sequence    = factor { factor }                   juxtaposition means AND
//	factor      = term { "OR" term }
//	term        = [ "NOT" | "-" ] simple
//	simple      = restriction | "(" expression ")"
//	restriction = field comparator value
//	field       = ident { "." ident }                 a path from the Schema
//	comparator  = "=" | "!=" | "<" | "<=" | ">" | ">=" | ":"
//	value       = quoted | bare
//	quoted      = '"' ... '"' | "'" ... "'"           escapes: \" \' \\ \n \t \*
//	bare        = { A-Z a-z 0-9 _ . : + - * or any non-ASCII character }
//
// As in AIP-160, OR binds tighter than AND: "a AND b OR c" means
// "a AND (b OR c)", and so does "a b OR c". Keywords are upper case only.
//
// What a value may be depends on the field's type:
//
//	String     any value, all six comparisons. With = and != a value ending in
//	           an unescaped * is a prefix match: name = "Ber*". A * anywhere
//	           else must be escaped (\*) inside a quoted string.
//	Int        a decimal integer, quoted or not; all six comparisons.
//	Bool       true or false; = and != only.
//	Enum       the value name, in full (STATE_IN_FORCE) or without the prefix
//	           of the enum's UNSPECIFIED value (IN_FORCE); = and != only.
//	Date       YYYY-MM-DD, YYYY-MM or YYYY; all six comparisons. A literal
//	           names a period (a day, a month or a year) and so does a stored
//	           partial date (a record known only as "2021"). "= 2021" is
//	           within 2021, "< 2021" before it, "<= 2021" before or within
//	           it, "> 2021" after it, ">= 2021" within or after it, and "!="
//	           the negation of "="; a stored partial date matches only when
//	           every day of its period does (date.go). Unset dates compare
//	           as earlier than every date; "< 0001" selects them alone.
//	Timestamp  RFC 3339; all six comparisons.
//	Age        "field.age" of a Date or Timestamp field: a whole number of
//	           days, 0 to 36500, with <, <=, > or >= only, relative to the
//	           now given to ParseAt (Parse: the current time).
//	           "occur_time.age > 30" is older than 30 days, 30×24 hours for a
//	           timestamp; a date's age is whole days to today in Vietnam
//	           (UTC+7, workdays.Vietnam), compared as dates are. Unset
//	           values have no age and match no .age restriction (see
//	           parser.age).
//	Repeated   only "field:value" (some element equals value) and "field:*"
//	           (the field has at least one element).
//
// Filters are limited to 4096 bytes, 32 levels of parentheses and 64
// restrictions, so that a request cannot make the database do unbounded work.
//
// # order_by
//
// order_by follows https://google.aip.dev/132: a comma-separated list of
// non-repeated schema fields, each optionally followed by asc or desc.
package filter
