package engine

import (
	"errors"
	"fmt"
	"strings"
)

// Error is a SQL Server message: number, severity (TDS "class"), state and text. Class 10 and
// below is informational (an INFO token), above 10 an error. It implements error.
type Error struct {
	Number    int32
	State     uint8
	Class     uint8
	Message   string
	Procedure string
	Line      int32
}

// Error renders "mssql: Msg N, Level C, State S: text".
func (e *Error) Error() string {
	return fmt.Sprintf("Msg %d, Level %d, State %d: %s", e.Number, e.Class, e.State, e.Message)
}

// IsInfo reports whether the message is informational (class ≤ 10).
func (e *Error) IsInfo() bool { return e.Class <= 10 }

// Errors is several messages raised by one statement, in order (e.g. 4305 then 3013).
type Errors []*Error

// Error joins the messages.
func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Messages extracts the SQL messages carried by err: an *Error, an Errors, or anything wrapping
// them. Any other non-nil error becomes one generic error (50000, class 16) so a client always
// gets a number.
func Messages(err error) []*Error {
	if err == nil {
		return nil
	}
	var list Errors
	if errors.As(err, &list) {
		return list
	}
	var one *Error
	if errors.As(err, &one) {
		return []*Error{one}
	}
	return []*Error{{Number: 50000, Class: 16, State: 1, Message: err.Error()}}
}

// NewError builds an error message with the given number, class, state and text.
func NewError(number int32, class, state uint8, format string, args ...any) *Error {
	return &Error{Number: number, Class: class, State: state, Message: fmt.Sprintf(format, args...)}
}

// Info builds an informational (class 0) message.
func Info(number int32, format string, args ...any) *Error {
	return &Error{Number: number, Class: 0, State: 1, Message: fmt.Sprintf(format, args...)}
}

// The errors the engine raises itself. Texts follow the SQL Server error tables
// (sql-docs, errors 0-999, 8000-8999); SQLSERVER.md §8 Q1/Q2 for 927/942/954/4060.

// ErrSyntax is 102 "Incorrect syntax near 'x'." (class 15).
func ErrSyntax(near string) *Error {
	return NewError(102, 15, 1, "Incorrect syntax near '%s'.", near)
}

// ErrSyntaxKeyword is 156 "Incorrect syntax near the keyword 'x'." (class 15).
func ErrSyntaxKeyword(kw string) *Error {
	return NewError(156, 15, 1, "Incorrect syntax near the keyword '%s'.", kw)
}

// ErrInvalidColumn is 207 "Invalid column name 'x'." (class 16).
func ErrInvalidColumn(name string) *Error {
	return NewError(207, 16, 1, "Invalid column name '%s'.", name)
}

// ErrInvalidObject is 208 "Invalid object name 'x'." (class 16).
func ErrInvalidObject(name string) *Error {
	return NewError(208, 16, 1, "Invalid object name '%s'.", name)
}

// ErrAmbiguousColumn is 209 "Ambiguous column name 'x'." (class 16).
func ErrAmbiguousColumn(name string) *Error {
	return NewError(209, 16, 1, "Ambiguous column name '%s'.", name)
}

// ErrUndeclaredVariable is 137 "Must declare the scalar variable "@x"." (class 15).
func ErrUndeclaredVariable(name string) *Error {
	return NewError(137, 15, 2, "Must declare the scalar variable \"%s\".", name)
}

// ErrDatabaseNotExist is 911 (class 16).
func ErrDatabaseNotExist(name string) *Error {
	return NewError(911, 16, 1, "Database '%s' does not exist. Make sure that the name is entered correctly.", name)
}

// ErrDatabaseRestoring is 927 (class 14, state 2; SQLSERVER.md §8 Q2).
func ErrDatabaseRestoring(name string) *Error {
	return NewError(927, 14, 2, "Database '%s' cannot be opened. It is in the middle of a restore.", name)
}

// ErrDatabaseOffline is 942 (class 14, state 4; SQLSERVER.md §8 Q2).
func ErrDatabaseOffline(name string) *Error {
	return NewError(942, 14, 4, "Database '%s' cannot be opened because it is offline.", name)
}

// ErrDatabaseMirror is 954 (class 14; state not documented, the lab uses 1; SQLSERVER.md §8 Q2).
func ErrDatabaseMirror(name string) *Error {
	return NewError(954, 14, 1, "The database \"%s\" cannot be opened. It is acting as a mirror database.", name)
}

// ErrCannotOpenLoginDatabase is 4060 (class 11; SQLSERVER.md §8 Q1).
func ErrCannotOpenLoginDatabase(name string) *Error {
	return NewError(4060, 11, 1, "Cannot open database \"%s\" requested by the login. The login failed.", name)
}

// ErrLoginFailed is 18456 (class 14, state 1 as the client sees it; SQLSERVER.md §8 Q15).
func ErrLoginFailed(login string) *Error {
	return NewError(18456, 14, 1, "Login failed for user '%s'.", login)
}

// ErrConversion is 245 "Conversion failed when converting the T value 'v' to data type U." (class 16).
func ErrConversion(from Type, text string, to Type) *Error {
	return NewError(245, 16, 1, "Conversion failed when converting the %s value '%s' to data type %s.", from.typeName(), text, to.typeName())
}

// ErrConvertType is 8114 "Error converting data type T to U." (class 16).
func ErrConvertType(from, to Type) *Error {
	return NewError(8114, 16, 5, "Error converting data type %s to %s.", from.typeName(), to.typeName())
}

// ErrOverflow is 8115 "Arithmetic overflow error converting expression to data type T." (class 16).
func ErrOverflow(to Type) *Error {
	return NewError(8115, 16, 2, "Arithmetic overflow error converting %s to data type %s.", "expression", to.typeName())
}

// ErrDivideByZero is 8134 (class 16).
func ErrDivideByZero() *Error { return NewError(8134, 16, 1, "Divide by zero error encountered.") }

// ErrOperandClash is 206 "Operand type clash: T is incompatible with U" (class 16).
func ErrOperandClash(a, b Type) *Error {
	return NewError(206, 16, 2, "Operand type clash: %s is incompatible with %s", a.typeName(), b.typeName())
}

// ErrUnknownFunction is 195 "'f' is not a recognized built-in function name." (class 15).
func ErrUnknownFunction(name string) *Error {
	return NewError(195, 15, 10, "'%s' is not a recognized built-in function name.", name)
}

// ErrArgCount is 174 "The f function requires n argument(s)." (class 15).
func ErrArgCount(name string, n int) *Error {
	return NewError(174, 15, 1, "The %s function requires %d argument(s).", name, n)
}

// ErrProcNotFound is 2812 "Could not find stored procedure 'x'." (class 16).
func ErrProcNotFound(name string) *Error {
	return NewError(2812, 16, 62, "Could not find stored procedure '%s'.", name)
}

// ErrMissingParam is 201 (class 16, state 4) "Procedure or function 'p' expects parameter '@x', which
// was not supplied."; param includes the '@'.
func ErrMissingParam(proc, param string) *Error {
	return NewError(201, 16, 4, "Procedure or function '%s' expects parameter '%s', which was not supplied.", proc, param)
}

// ErrSubqueryRows is 512 (class 16): a scalar subquery returned more than one row.
func ErrSubqueryRows() *Error {
	return NewError(512, 16, 1, "Subquery returned more than 1 value. This is not permitted when the subquery follows =, !=, <, <= , >, >= or when the subquery is used as an expression.")
}

// ErrNotInGroupBy is 8120 (class 16).
func ErrNotInGroupBy(col string) *Error {
	return NewError(8120, 16, 1, "Column '%s' is invalid in the select list because it is not contained in either an aggregate function or the GROUP BY clause.", col)
}

// ErrDatePart is 155 "'x' is not a recognized datediff option." (class 15).
func ErrDatePart(part, fn string) *Error {
	return NewError(155, 15, 1, "'%s' is not a recognized %s option.", part, fn)
}

// ErrDateDiffOverflow is 535 (class 16).
func ErrDateDiffOverflow() *Error {
	return NewError(535, 16, 0, "The datediff function resulted in an overflow. The number of dateparts separating two date/time instances is too large. Try to use datediff with a less precise datepart.")
}

// ErrVariableRedeclared is 134 (class 15).
func ErrVariableRedeclared(name string) *Error {
	return NewError(134, 15, 1, "The variable name '%s' has already been declared. Variable names must be unique within a query batch or stored procedure.", name)
}

// ErrInsertColumnCount is 110/109-style mismatch: 213 "Column name or number of supplied values does not match table definition." (class 16).
func ErrInsertColumnCount() *Error {
	return NewError(213, 16, 1, "Column name or number of supplied values does not match table definition.")
}

// ErrQueryCancelled is what the engine returns when the batch's context ends (an ATTENTION):
// the client sees the cancellation, not a message, so this is only for logs.
var ErrQueryCancelled = errors.New("query cancelled")
