package national

import (
	"bufio"
	"io"
	"regexp"
	"strings"
)

// WriteCSV writes rows (a Report, for summary.csv and the CLI's --csv)
// with every text cell double-quoted (quotes doubled) and escaped
// (csvCell); whole numbers stay bare, so they stay numbers, and so do
// empty cells. encoding/csv cannot do this: it quotes a cell only when it holds a comma,
// a quote, a line break or a leading space, and a spreadsheet whose list
// separator is ";" (decimal-comma locales) splits the bare cell
// "x;=cmd|' /C calc'!A0" and runs its second half. Quoting every text cell is
// OWASP's advice for CSV injection along with the leading quote.
func WriteCSV(w io.Writer, rows [][]string) error {
	out := bufio.NewWriter(w)
	for _, row := range rows {
		for i, cell := range row {
			if i > 0 {
				out.WriteByte(',')
			}
			// An empty cell stays bare too: quoted, the padding of a
			// row ("-42,1,\"\"") would be one text cell starting with
			// "-" to a spreadsheet that splits on ";".
			if cell == "" || integer.MatchString(cell) {
				out.WriteString(cell)
				continue
			}
			out.WriteByte('"')
			out.WriteString(strings.ReplaceAll(csvCell(cell), `"`, `""`))
			out.WriteByte('"')
		}
		out.WriteByte('\n')
	}
	return out.Flush()
}

// integer is a cell a spreadsheet reads as a number and nothing else.
var integer = regexp.MustCompile(`^-?[0-9]+$`)

// csvCell defuses a cell a spreadsheet would run as a formula (OWASP's
// advice for CSV injection): text starting with =, +, -, @, tab or CR gets
// a leading single quote, which spreadsheets show as text. Counts and sums
// are left alone, so a negative sum stays a number.
func csvCell(s string) string {
	if s == "" || !strings.ContainsRune("=+-@\t\r", rune(s[0])) || integer.MatchString(s) {
		return s
	}
	return "'" + s
}
