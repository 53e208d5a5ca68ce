package engine

import (
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

var fixtureNow = time.Date(2024, 3, 10, 14, 30, 15, 123_456_789, time.UTC)

func newTestSession(t *testing.T, sysadmin bool) (*Session, *Static) {
	t.Helper()
	b := NewFixture(fixtureNow, 50)
	e := New(zap.NewNop(), b, nil)
	login := "sa"
	if !sysadmin {
		login = "monitor"
	}
	return e.NewSession(SessionInfo{SPID: 52, Login: login, Sysadmin: sysadmin, Database: "master"}, nil), b
}

func run(t *testing.T, s *Session, sql string) *Recorder {
	t.Helper()
	r := &Recorder{}
	if err := s.Execute(context.Background(), sql, nil, r); err != nil {
		t.Fatalf("execute %q: %v", sql, err)
	}
	return r
}

// one runs a query that must succeed with one result set.
func one(t *testing.T, s *Session, sql string) *ResultSet {
	t.Helper()
	r := run(t, s, sql)
	if errs := r.Errors(); len(errs) > 0 {
		t.Fatalf("%q: unexpected error %v", sql, errs[0])
	}
	if len(r.Results) != 1 {
		t.Fatalf("%q: %d result sets, want 1", sql, len(r.Results))
	}
	return r.Results[0]
}

func scalarText(t *testing.T, s *Session, sql string) string {
	t.Helper()
	rs := one(t, s, sql)
	if len(rs.Rows) != 1 || len(rs.Rows[0]) != 1 {
		t.Fatalf("%q: got %d rows, want one value", sql, len(rs.Rows))
	}
	return rs.Rows[0][0].Text()
}

func errNumbers(r *Recorder) []int32 {
	var out []int32
	for _, e := range r.Errors() {
		out = append(out, e.Number)
	}
	return out
}

func TestScalarExpressions(t *testing.T) {
	s, _ := newTestSession(t, true)
	cases := []struct{ sql, want string }{
		{"SELECT 1 + 2 * 3", "7"},
		{"SELECT (1 + 2) * 3", "9"},
		{"SELECT 7 / 2", "3"},
		{"SELECT 7 % 3", "1"},
		{"SELECT 7.0 / 2", "3.500000"},
		{"SELECT -5 + 2", "-3"},
		{"SELECT N'ab' + 'cd'", "abcd"},
		{"SELECT CASE WHEN 1 = 1 THEN 'yes' ELSE 'no' END", "yes"},
		{"SELECT CASE 2 WHEN 1 THEN 'one' WHEN 2 THEN 'two' END", "two"},
		{"SELECT CASE WHEN NULL = NULL THEN 'eq' ELSE 'unknown' END", "unknown"},
		{"SELECT ISNULL(NULL, 42)", "42"},
		{"SELECT COALESCE(NULL, NULL, N'x')", "x"},
		{"SELECT NULLIF(1, 1)", "NULL"},
		{"SELECT CASE WHEN 'ABC' = 'abc ' THEN 1 ELSE 0 END", "1"},
		{"SELECT CASE WHEN N'Straße' LIKE N'STR%' THEN 1 ELSE 0 END", "1"},
		{"SELECT CASE WHEN 'abc' LIKE 'a_c' AND 'abc' LIKE '[a-c]b[^x]' THEN 1 ELSE 0 END", "1"},
		{"SELECT CASE WHEN 'a%c' LIKE 'a!%c' ESCAPE '!' AND 'abc' NOT LIKE 'a!%c' ESCAPE '!' THEN 1 ELSE 0 END", "1"},
		{"SELECT CASE WHEN 3 IN (1, 2, 3) THEN 1 ELSE 0 END", "1"},
		{"SELECT CASE WHEN 3 NOT IN (1, NULL) THEN 1 ELSE 0 END", "0"},
		{"SELECT CASE WHEN 2 BETWEEN 1 AND 3 THEN 1 ELSE 0 END", "1"},
		{"SELECT CASE WHEN NOT (1 = 2) THEN 1 ELSE 0 END", "1"},
		{"SELECT CASE WHEN NULL IS NULL AND 1 IS NOT NULL THEN 1 ELSE 0 END", "1"},
		{"SELECT CAST('42' AS int) + 1", "43"},
		{"SELECT CAST(12.5 AS int)", "12"},
		{"SELECT CAST(2.5 AS numeric(5,0))", "3"},
		{"SELECT CAST(-2.5 AS numeric(5,0))", "-3"},
		{"SELECT CONVERT(nvarchar(10), 123)", "123"},
		{"SELECT CAST('2024-01-15 10:20:30.001' AS datetime)", "2024-01-15 10:20:30.000"},
		{"SELECT CAST('2024-01-15 10:20:30.002' AS datetime)", "2024-01-15 10:20:30.003"},
		{"SELECT CAST('2024-01-15 10:20:30.005' AS datetime)", "2024-01-15 10:20:30.007"},
		{"SELECT CAST('2024-01-15 23:59:59.999' AS datetime)", "2024-01-16 00:00:00.000"},
		{"SELECT CAST('6F9619FF-8B86-D011-B42D-00C04FC964FF' AS uniqueidentifier)", "6F9619FF-8B86-D011-B42D-00C04FC964FF"},
		{"SELECT 9223372036854775808000001 + 1", "9223372036854775808000002"},
		{"SELECT CAST(N'9223372036854775808000001' AS numeric(25,0))", "9223372036854775808000001"},
		{"SELECT LEN(N'abc  ')", "3"},
		{"SELECT UPPER('abc') + LOWER('DEF')", "ABCdef"},
		{"SELECT SUBSTRING('abcdef', 2, 3)", "bcd"},
		{"SELECT LEFT('abcdef', 2) + RIGHT('abcdef', 2)", "abef"},
		{"SELECT CHARINDEX('c', 'abcabc')", "3"},
		{"SELECT REPLACE('aXbX', 'x', '-')", "a-b-"},
		{"SELECT @@SERVERNAME", "SQLA1"},
		{"SELECT @@SPID", "52"},
		{"SELECT SERVERPROPERTY('ProductVersion')", "15.0.4261.1"},
		{"SELECT SERVERPROPERTY('NoSuchProperty')", "NULL"},
		{"SELECT DB_ID(N'mgc')", "5"},
		{"SELECT DB_ID('nope')", "NULL"},
		{"SELECT DB_NAME(5)", "mgc"},
		{"SELECT DB_NAME()", "master"},
		{"SELECT DATABASEPROPERTYEX(N'lsdb', 'Status')", "RESTORING"},
		{"SELECT DATABASEPROPERTYEX(N'standbydb', 'Updateability')", "READ_ONLY"},
		{"SELECT IS_SRVROLEMEMBER('sysadmin')", "1"},
		{"SELECT SUSER_SNAME()", "sa"},
		{"SELECT GETDATE()", "2024-03-10 09:30:15.123"},
		{"SELECT GETUTCDATE()", "2024-03-10 14:30:15.123"},
		{"SELECT SYSUTCDATETIME()", "2024-03-10 14:30:15.1234568"},
		{"SELECT SYSDATETIMEOFFSET()", "2024-03-10 09:30:15.1234568 -05:00"},
		{"SELECT DATEDIFF(minute, GETDATE(), GETUTCDATE())", "300"},
		{"SELECT DATEADD(hour, 5, GETDATE())", "2024-03-10 14:30:15.123"},
	}
	for _, c := range cases {
		if got := scalarText(t, s, c.sql); got != c.want {
			t.Errorf("%s = %q, want %q", c.sql, got, c.want)
		}
	}
}

func TestDateDiffCountsBoundaries(t *testing.T) {
	s, _ := newTestSession(t, true)
	cases := []struct{ sql, want string }{
		// one tick apart, but a year, month, day, hour, minute and second boundary crossed
		{"SELECT DATEDIFF(year, '2023-12-31 23:59:59.997', '2024-01-01 00:00:00.000')", "1"},
		{"SELECT DATEDIFF(quarter, '2024-03-31', '2024-04-01')", "1"},
		{"SELECT DATEDIFF(month, '2024-01-31', '2024-02-01')", "1"},
		{"SELECT DATEDIFF(day, '2024-01-01 23:59', '2024-01-02 00:01')", "1"},
		{"SELECT DATEDIFF(hour, '2024-01-01 10:59:59', '2024-01-01 11:00:00')", "1"},
		{"SELECT DATEDIFF(minute, '2024-01-01 10:00:59', '2024-01-01 10:01:00')", "1"},
		{"SELECT DATEDIFF(minute, '2024-01-01 10:00:00', '2024-01-01 10:00:59')", "0"},
		{"SELECT DATEDIFF(second, '2024-01-01 10:00:00.999', '2024-01-01 10:00:01.000')", "1"},
		{"SELECT DATEDIFF(minute, '2024-01-01 10:05', '2024-01-01 10:00')", "-5"},
		// 2024-03-09 is a Saturday, 2024-03-10 a Sunday: one week boundary
		{"SELECT DATEDIFF(week, '2024-03-09', '2024-03-10')", "1"},
		{"SELECT DATEDIFF(week, '2024-03-10', '2024-03-16')", "0"},
		{"SELECT DATEDIFF_BIG(nanosecond, '2000-01-01', '2024-01-01')", "757382400000000000"},
		{"SELECT DATEADD(month, 1, CAST('2024-01-31' AS datetime))", "2024-02-29 00:00:00.000"},
		{"SELECT DATEADD(minute, -90, CAST('2024-01-01 00:30' AS datetime2(0)))", "2023-12-31 23:00:00"},
		{"SELECT DATEPART(weekday, '2024-03-10')", "1"},
		{"SELECT CAST('2024-03-10 23:59:59' AS date)", "2024-03-10"},
		{"SELECT DATEADD(day, 1, CAST('2024-02-28' AS date))", "2024-02-29"},
		{"SELECT CASE WHEN CAST('2024-03-10' AS date) < CAST('2024-03-10 00:00:01' AS datetime) THEN 1 ELSE 0 END", "1"},
		{"SELECT STUFF(STUFF(RIGHT(REPLICATE('0', 6) + CAST(93015 AS varchar(6)), 6), 3, 0, ':'), 6, 0, ':')", "09:30:15"},
		{"SELECT STUFF('abc', 5, 1, 'x')", "NULL"},
		{"SELECT TRY_CAST('abc' AS int)", "NULL"},
		{"SELECT TRY_CONVERT(int, '42')", "42"},
		{"SELECT CASE WHEN OBJECT_ID(N'msdb.dbo.backupset') > 0 AND OBJECT_ID('msdb.dbo.backupset') = OBJECT_ID('MSDB.DBO.BACKUPSET') THEN 1 ELSE 0 END", "1"},
		{"SELECT OBJECT_ID(N'msdb.dbo.nosuch')", "NULL"},
		{"SELECT OBJECT_ID(N'lsdb.dbo.t')", "NULL"},
	}
	for _, c := range cases {
		if got := scalarText(t, s, c.sql); got != c.want {
			t.Errorf("%s = %q, want %q", c.sql, got, c.want)
		}
	}
	r := run(t, s, "SELECT DATEDIFF(millisecond, '1900-01-01', '2024-01-01')")
	if got := errNumbers(r); len(got) != 1 || got[0] != 535 {
		t.Errorf("DATEDIFF overflow: errors %v, want [535]", got)
	}
}

func TestCatalogQueries(t *testing.T) {
	s, _ := newTestSession(t, true)
	rs := one(t, s, `SELECT d.name, d.state_desc, m.mirroring_role_desc, m.mirroring_failover_lsn
		FROM sys.databases AS d LEFT JOIN sys.database_mirroring AS m ON m.database_id = d.database_id
		WHERE d.database_id > 4 ORDER BY d.name DESC`)
	if len(rs.Rows) != 6 {
		t.Fatalf("rows = %d, want 6", len(rs.Rows))
	}
	if got := rs.Rows[0][0].Text(); got != "standbydb" {
		t.Errorf("first row %q, want standbydb (ORDER BY name DESC)", got)
	}
	if rs.Columns[3].Type != TypeLSN {
		t.Errorf("failover lsn type %v, want numeric(25,0)", rs.Columns[3].Type)
	}
	var mgc []Value
	for _, r := range rs.Rows {
		if r[0].Text() == "mgc" {
			mgc = r
		}
	}
	if mgc == nil || mgc[2].Text() != "PRINCIPAL" {
		t.Fatalf("mgc row %v", mgc)
	}
	want, _ := new(big.Int).SetString("9223372036854775808000901", 10)
	if mgc[3].Unscaled().Cmp(want) != 0 || mgc[3].Unscaled().IsInt64() {
		t.Errorf("failover lsn %s, want %s (beyond int64)", mgc[3].Text(), want)
	}

	// three-part names, bracketed identifiers, aggregates
	if got := scalarText(t, s, "SELECT COUNT(*) FROM [msdb].[dbo].[backupset] WHERE [type] = 'L'"); got != "3" {
		t.Errorf("count = %s", got)
	}
	if got := scalarText(t, s, "SELECT MAX(id) FROM mgc.dbo.messages"); got != "50" {
		t.Errorf("max(id) = %s", got)
	}
	if got := scalarText(t, s, "SELECT MAX(last_lsn) FROM msdb..backupset WHERE database_name = N'MGC'"); got != "9223372036854775808000301" {
		t.Errorf("max(last_lsn) = %s", got)
	}
	rs = one(t, s, "SELECT type, COUNT(*) AS n, MIN(first_lsn) AS lo FROM msdb.dbo.backupset GROUP BY type HAVING COUNT(*) > 1")
	if len(rs.Rows) != 1 || rs.Rows[0][1].Text() != "3" || rs.Columns[1].Name != "n" {
		t.Errorf("group by: %+v", rs.Rows)
	}
	rs = one(t, s, "SELECT TOP (2) name FROM msdb.dbo.sysjobs ORDER BY name")
	if len(rs.Rows) != 2 || rs.Rows[0][0].Text() != "LSBackup_mgc" || rs.Rows[1][0].Text() != "LSCopy_mgc" {
		t.Errorf("top/order: %v", rs.Rows)
	}
	// a scalar subquery and IN (subquery)
	if got := scalarText(t, s, "SELECT (SELECT name FROM msdb.dbo.sysjobs WHERE job_id = (SELECT backup_job_id FROM msdb.dbo.log_shipping_primary_databases WHERE primary_database = N'mgc'))"); got != "LSBackup_mgc" {
		t.Errorf("subquery = %s", got)
	}
	if got := scalarText(t, s, "SELECT COUNT(*) FROM sys.databases WHERE database_id IN (SELECT database_id FROM sys.master_files WHERE redo_start_lsn IS NOT NULL)"); got != "3" {
		t.Errorf("in subquery = %s", got)
	}
	// correlated subquery
	if got := scalarText(t, s, "SELECT COUNT(*) FROM sys.databases d WHERE EXISTS (SELECT 1 FROM sys.master_files f WHERE f.database_id = d.database_id AND f.file_id = 2)"); got != "6" {
		t.Errorf("exists = %s", got)
	}
	// DISTINCT with CI equality
	if got := scalarText(t, s, "SELECT COUNT(*) FROM (SELECT DISTINCT state_desc FROM sys.databases) AS x"); got != "3" {
		t.Errorf("distinct states = %s", got)
	}
}

func TestMonitoringLoginSeesNullMirrorColumns(t *testing.T) {
	for _, sysadmin := range []bool{true, false} {
		s, _ := newTestSession(t, sysadmin)
		rs := one(t, s, "SELECT database_id, mirroring_role_desc, mirroring_guid FROM sys.database_mirroring WHERE database_id IN (5, 8) ORDER BY database_id")
		if rs.Rows[0][1].Text() != "PRINCIPAL" {
			t.Errorf("sysadmin=%v: principal row %v", sysadmin, rs.Rows[0])
		}
		mirror := rs.Rows[1]
		if mirror[0].Text() != "8" {
			t.Fatalf("mirror row %v", mirror)
		}
		if sysadmin == mirror[1].Null || sysadmin == mirror[2].Null {
			t.Errorf("sysadmin=%v: mirror row %v (only sysadmin sees the mirror's columns)", sysadmin, mirror)
		}
	}
}

func TestErrors(t *testing.T) {
	s, _ := newTestSession(t, true)
	cases := []struct {
		sql  string
		num  int32
		text string
	}{
		{"SELECT nosuch FROM sys.databases", 207, "Invalid column name 'nosuch'."},
		{"SELECT DB_ID(N'mgc', 1)", 174, "The DB_ID function requires 1 argument(s)."},
		{"SELECT DB_NAME(1, 2)", 174, "The DB_NAME function requires 1 argument(s)."},
		{"SELECT * FROM sys.nosuch", 208, "Invalid object name 'sys.nosuch'."},
		{"SELECT * FROM nodb.dbo.t", 208, "Invalid object name 'nodb.dbo.t'."},
		{"SELECT database_id FROM sys.databases d JOIN sys.master_files f ON f.database_id = d.database_id", 209, "Ambiguous column name 'database_id'."},
		{"SELECT x.name FROM sys.databases d", 4104, `The multi-part identifier "x.name" could not be bound.`},
		{"SELECT 1 2", 102, "Incorrect syntax near '2'."},
		{"SELEC 1", 2812, "Could not find stored procedure 'SELEC'."},
		{"SELECT * FROM", 156, "Incorrect syntax near the keyword 'from'."},
		{"SELECT 'abc", 105, ""},
		{"SELECT @nope", 137, `Must declare the scalar variable "@nope".`},
		{"USE nodb", 911, "Database 'nodb' does not exist. Make sure that the name is entered correctly."},
		{"USE lsdb", 927, "Database 'lsdb' cannot be opened. It is in the middle of a restore."},
		{"USE mirrordb", 954, `The database "mirrordb" cannot be opened. It is acting as a mirror database.`},
		{"USE offdb", 942, "Database 'offdb' cannot be opened because it is offline."},
		{"SELECT COUNT(*) FROM lsdb.sys.objects", 927, ""},
		{"SELECT COUNT(*) FROM offdb.dbo.t", 942, ""},
		{"SELECT CAST('abc' AS int)", 245, "Conversion failed when converting the varchar value 'abc' to data type int."},
		{"SELECT CAST(N'1.5x' AS numeric(10,2))", 8114, "Error converting data type nvarchar to numeric."},
		{"SELECT CAST(300 AS tinyint)", 8115, ""},
		{"SELECT 1 / 0", 8134, "Divide by zero error encountered."},
		{"SELECT name, COUNT(*) FROM sys.databases", 8120, ""},
		{"SELECT NOSUCHFN(1)", 195, ""},
		{"SELECT (SELECT name FROM sys.databases)", 512, ""},
		{"EXEC dbo.sp_nosuch", 2812, ""},
	}
	for _, c := range cases {
		r := run(t, s, c.sql)
		errs := r.Errors()
		if len(errs) == 0 {
			t.Errorf("%s: no error, want %d", c.sql, c.num)
			continue
		}
		if errs[0].Number != c.num {
			t.Errorf("%s: error %d %q, want %d", c.sql, errs[0].Number, errs[0].Message, c.num)
		}
		if c.text != "" && errs[0].Message != c.text {
			t.Errorf("%s: text %q, want %q", c.sql, errs[0].Message, c.text)
		}
		if errs[0].Class < 11 {
			t.Errorf("%s: class %d", c.sql, errs[0].Class)
		}
	}
}

func TestBatchSemantics(t *testing.T) {
	s, _ := newTestSession(t, true)
	// a compile error ends the batch; a runtime error (divide by zero) ends only its statement
	r := run(t, s, "SELECT 1; SELECT nosuch FROM sys.databases; SELECT 2")
	if len(r.Results) != 1 || len(r.Errors()) != 1 {
		t.Errorf("after 207: %d results, %d errors; want 1, 1", len(r.Results), len(r.Errors()))
	}
	r = run(t, s, "SELECT 1 / 0; SELECT 2")
	if len(r.Results) != 1 || r.Results[0].Rows[0][0].Text() != "2" {
		t.Errorf("after 8134 the batch continues: %+v", r.Results)
	}
	// a syntax error anywhere runs nothing
	r = run(t, s, "SELECT 1; SELECT FROM WHERE")
	if len(r.Results) != 0 {
		t.Errorf("syntax error: %d results ran", len(r.Results))
	}
	// USE changes the session's database; the next batch keeps it
	r = run(t, s, "USE msdb; SELECT DB_NAME()")
	if r.Database != "msdb" || r.Results[0].Rows[0][0].Text() != "msdb" {
		t.Errorf("use: db %q, %v", r.Database, r.Results[0].Rows)
	}
	if got := scalarText(t, s, "SELECT COUNT(*) FROM dbo.sysjobs"); got != "3" {
		t.Errorf("two-part name in msdb: %s", got)
	}
	s.Reset()
	if s.Database() != "master" {
		t.Errorf("after reset: %s", s.Database())
	}
	// variables and SET options
	r = run(t, s, "SET NOCOUNT ON; SET ANSI_NULLS ON; SET TEXTSIZE 2147483647; SET TRANSACTION ISOLATION LEVEL READ COMMITTED; DECLARE @b uniqueidentifier = (SELECT backup_job_id FROM msdb.dbo.log_shipping_primary_databases WHERE primary_database = N'mgc'); SELECT name FROM msdb.dbo.sysjobs WHERE job_id = @b")
	if len(r.Errors()) != 0 || r.Results[0].Rows[0][0].Text() != "LSBackup_mgc" {
		t.Errorf("declare: %v %v", r.Errors(), r.Results)
	}
	if s.Option("NOCOUNT") != "ON" {
		t.Errorf("NOCOUNT option %q", s.Option("NOCOUNT"))
	}
	// variables do not survive the batch
	r = run(t, s, "SELECT @b")
	if got := errNumbers(r); len(got) != 1 || got[0] != 137 {
		t.Errorf("variable after batch: %v", got)
	}
}

func TestParameters(t *testing.T) {
	s, _ := newTestSession(t, true)
	r := &Recorder{}
	params := []Param{{Name: "@p1", Type: TypeSysname, Value: NStr("MGC")}, {Name: "@p2", Type: TypeInt, Value: Int(4)}}
	err := s.Execute(context.Background(), "SELECT database_id FROM sys.databases WHERE name = @p1 AND database_id > @p2", params, r)
	if err != nil || len(r.Errors()) != 0 || r.Results[0].Rows[0][0].Text() != "5" {
		t.Fatalf("params: %v %v %v", err, r.Errors(), r.Results)
	}
	// sp_executesql in a batch
	rs := one(t, s, "EXEC sp_executesql N'SELECT @a + @b AS s', N'@a int, @b int', @a = 2, @b = 3")
	if rs.Rows[0][0].Text() != "5" || rs.Columns[0].Name != "s" {
		t.Errorf("sp_executesql: %v", rs.Rows)
	}
}

func TestEffectsAreTyped(t *testing.T) {
	s, b := newTestSession(t, true)
	batch := `RESTORE LOG lsdb FROM DISK = N'D:\lscopy\mgc_1.trn' WITH NORECOVERY;
		RESTORE LOG lsdb FROM DISK = N'D:\lscopy\mgc_2.trn' WITH STANDBY = N'D:\undo.tuf', STATS = 10;
		RESTORE DATABASE lsdb WITH RECOVERY;
		RESTORE HEADERONLY FROM DISK = N'D:\lscopy\mgc_1.trn';
		BACKUP LOG mgc TO DISK = N'\\share\mgc_tail.trn' WITH NO_TRUNCATE, NORECOVERY;
		ALTER DATABASE mgc SET PARTNER FAILOVER;
		ALTER DATABASE mgc SET PARTNER SAFETY OFF;
		ALTER DATABASE mgc SET PARTNER TIMEOUT 30;
		ALTER DATABASE mgc SET WITNESS OFF;
		ALTER DATABASE standbydb SET SINGLE_USER WITH ROLLBACK IMMEDIATE;
		ALTER DATABASE mgc SET PARTNER = N'TCP://sqla2:5022';
		KILL 57`
	r := run(t, s, batch)
	if len(r.Errors()) != 0 {
		t.Fatalf("errors: %v", r.Errors())
	}
	ex := b.Executed()
	if len(ex) != 12 {
		t.Fatalf("executed %d effects, want 12", len(ex))
	}
	r1 := ex[0].(*RestoreStmt)
	if r1.Kind != RestoreLog || r1.Database != "lsdb" || r1.Disks[0] != `D:\lscopy\mgc_1.trn` || !r1.Has("norecovery") {
		t.Errorf("restore 1: %+v", r1)
	}
	if v, ok := ex[1].(*RestoreStmt).Get("STANDBY"); !ok || v.Text() != `D:\undo.tuf` {
		t.Errorf("standby option: %v %v", v, ok)
	}
	if r3 := ex[2].(*RestoreStmt); r3.Kind != RestoreDatabase || len(r3.Disks) != 0 || !r3.Has("RECOVERY") {
		t.Errorf("restore 3: %+v", r3)
	}
	if ex[3].(*RestoreStmt).Kind != RestoreHeaderOnly {
		t.Errorf("headeronly: %+v", ex[3])
	}
	if bk := ex[4].(*BackupStmt); !bk.Log || !bk.Has("NO_TRUNCATE") || !bk.Has("NORECOVERY") || bk.Disks[0] != `\\share\mgc_tail.trn` {
		t.Errorf("backup: %+v", bk)
	}
	want := []AlterDatabaseStmt{
		{Database: "mgc", Option: "PARTNER", Action: "FAILOVER"},
		{Database: "mgc", Option: "PARTNER", Action: "SAFETY", Value: "OFF"},
		{Database: "mgc", Option: "PARTNER", Action: "TIMEOUT", Timeout: 30},
		{Database: "mgc", Option: "WITNESS", Action: "OFF"},
		{Database: "standbydb", Option: "SINGLE_USER", Termination: "ROLLBACK IMMEDIATE"},
		{Database: "mgc", Option: "PARTNER", Action: "ADDRESS", Value: "TCP://sqla2:5022"},
	}
	for i, w := range want {
		if got := *ex[5+i].(*AlterDatabaseStmt); got != w {
			t.Errorf("alter %d: %+v, want %+v", i, got, w)
		}
	}
	if k := ex[11].(*KillStmt); k.SPID != 57 {
		t.Errorf("kill: %+v", k)
	}
}

func TestExecProcedures(t *testing.T) {
	s, b := newTestSession(t, true)
	var got *ExecStmt
	b.HandleProc("sp_update_job", func(_ context.Context, _ *SessionInfo, call *ExecStmt) (*EffectResult, error) {
		got = call
		return &EffectResult{RowsAffected: -1}, nil
	})
	b.HandleProc("sp_start_job", func(_ context.Context, _ *SessionInfo, call *ExecStmt) (*EffectResult, error) {
		name, _ := call.Arg("job_name", 0)
		return &EffectResult{Messages: []*Error{Info(14243, "Job '%s' started successfully.", name.Text())}, RowsAffected: -1}, nil
	})
	r := run(t, s, `DECLARE @b uniqueidentifier = (SELECT backup_job_id FROM msdb.dbo.log_shipping_primary_databases WHERE primary_database = N'mgc');
		EXEC msdb.dbo.sp_update_job @job_id = @b, @enabled = 0;`)
	if len(r.Errors()) != 0 || got == nil {
		t.Fatalf("exec: %v", r.Errors())
	}
	if got.Proc.Database != "msdb" || got.Proc.Name != "sp_update_job" {
		t.Errorf("proc %+v", got.Proc)
	}
	if v, ok := got.Arg("@JOB_ID", -1); !ok || v.T.Kind != KindUniqueIdentifier || v.Text() != "6F9619FF-8B86-D011-B42D-000000000259" {
		t.Errorf("job_id arg %v %v", v, ok)
	}
	if v, _ := got.Arg("enabled", -1); v.Int64() != 0 || v.Null {
		t.Errorf("enabled arg %v", v)
	}
	r = run(t, s, "EXEC msdb.dbo.sp_start_job N'LSCopy_mgc'")
	if len(r.Messages) != 1 || r.Messages[0].Number != 14243 || r.Messages[0].Message != "Job 'LSCopy_mgc' started successfully." {
		t.Errorf("start job messages %v", r.Messages)
	}
	// a bare identifier is a string argument
	b.HandleProc("sp_delete_log_shipping_secondary_database", func(_ context.Context, _ *SessionInfo, call *ExecStmt) (*EffectResult, error) {
		got = call
		return nil, nil
	})
	run(t, s, "exec sp_delete_log_shipping_secondary_database mgc")
	if v, _ := got.Arg("secondary_database", 0); v.Text() != "mgc" {
		t.Errorf("bare identifier arg %v", v)
	}
}

func TestPermissionsOfMonitoringLogin(t *testing.T) {
	s, _ := newTestSession(t, false)
	cases := []struct {
		sql  string
		nums []int32
	}{
		{"RESTORE LOG lsdb FROM DISK = N'x.trn' WITH NORECOVERY", []int32{3110, 3013}},
		{"RESTORE HEADERONLY FROM DISK = N'x.trn'", []int32{262, 3013}},
		{"ALTER DATABASE mgc SET PARTNER OFF", []int32{5011, 5069}},
		{"EXEC msdb.dbo.sp_update_job @job_name = N'LSBackup_mgc', @enabled = 0", []int32{229}},
		{"INSERT INTO mgc.dbo.messages (id) VALUES (1)", []int32{229}},
	}
	for _, c := range cases {
		r := run(t, s, c.sql)
		got := errNumbers(r)
		if len(got) != len(c.nums) {
			t.Errorf("%s: errors %v, want %v", c.sql, got, c.nums)
			continue
		}
		for i := range got {
			if got[i] != c.nums[i] {
				t.Errorf("%s: errors %v, want %v", c.sql, got, c.nums)
			}
		}
	}
}

func TestInsert(t *testing.T) {
	s, _ := newTestSession(t, true)
	r := run(t, s, "INSERT INTO mgc.dbo.messages (id, created_at, body) VALUES (51, SYSUTCDATETIME(), N'hello'), (52, NULL, N'x')")
	if len(r.Errors()) != 0 || len(r.Counts) != 1 || r.Counts[0] != 2 {
		t.Fatalf("insert: %v counts %v", r.Errors(), r.Counts)
	}
	if got := scalarText(t, s, "SELECT COUNT(*) FROM mgc.dbo.messages WHERE body = N'HELLO'"); got != "1" {
		t.Errorf("inserted row not found: %s", got)
	}
	r = run(t, s, "INSERT INTO mgc.dbo.messages (id, nosuch) VALUES (1, 2)")
	if got := errNumbers(r); len(got) != 1 || got[0] != 207 {
		t.Errorf("bad column: %v", got)
	}
	r = run(t, s, "INSERT INTO mgc.dbo.messages (id) VALUES ('x')")
	if got := errNumbers(r); len(got) != 1 || got[0] != 245 {
		t.Errorf("bad value: %v", got)
	}
	r = run(t, s, "INSERT INTO lsdb.dbo.messages (id) VALUES (1)")
	if got := errNumbers(r); len(got) != 1 || got[0] != 927 {
		t.Errorf("restoring db: %v", got)
	}
}

func TestCancellation(t *testing.T) {
	s, _ := newTestSession(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Execute(ctx, "WAITFOR DELAY '00:10:00'; SELECT 1", nil, &Recorder{}) }()
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "canceled") {
			t.Errorf("cancelled batch returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WAITFOR did not honour cancellation")
	}
}

func TestParseNeverPanics(t *testing.T) {
	inputs := []string{"", ";", "SELECT", "SELECT (", "SELECT 1 +", "SELECT CASE", "SELECT * FROM a JOIN", "EXEC", "RESTORE",
		"ALTER DATABASE x SET", "SELECT [a", "SELECT /* x", "SELECT N'", "SELECT @", "SELECT 1e", "SELECT 0x1F", "DECLARE @x numeric(99)",
		strings.Repeat("(", 5000) + "1", strings.Repeat("NOT ", 5000) + "1=1", "SELECT " + strings.Repeat("-", 5000) + "1"}
	for _, in := range inputs {
		_, _ = Parse(in)
	}
}

func TestHashedInAndJoinAgreeWithNestedLoops(t *testing.T) {
	s, _ := newTestSession(t, true)
	// long IN lists (hashed) and short ones (compared one by one) must give the same answers,
	// NULL rules included
	long := "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12"
	cases := []struct{ sql, want string }{
		{"SELECT COUNT(*) FROM sys.databases WHERE database_id IN (" + long + ")", "10"},
		{"SELECT COUNT(*) FROM sys.databases WHERE database_id NOT IN (" + long + ")", "0"},
		{"SELECT COUNT(*) FROM sys.databases WHERE database_id NOT IN (" + long + ", NULL)", "0"},
		{"SELECT COUNT(*) FROM sys.databases WHERE database_id IN (" + long + ", NULL)", "10"},
		{"SELECT COUNT(*) FROM sys.databases WHERE name IN (N'MGC', 'lsdb ', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h')", "2"},
		{"SELECT COUNT(*) FROM sys.databases WHERE CAST(database_id AS bigint) IN (5.0, 6, 100, 101, 102, 103, 104, 105, 106, 107)", "2"},
		// hash join on an int = int equality, plus a residual condition
		{"SELECT COUNT(*) FROM sys.databases d JOIN sys.master_files f ON f.database_id = d.database_id AND f.type = 1", "6"},
		{"SELECT COUNT(*) FROM sys.databases d LEFT JOIN sys.master_files f ON d.database_id = f.database_id AND f.file_id = 1", "10"},
		{"SELECT COUNT(*) FROM sys.databases d RIGHT JOIN sys.master_files f ON d.database_id = f.database_id AND d.name = N'mgc'", "12"},
		{"SELECT COUNT(*) FROM sys.databases d FULL JOIN sys.master_files f ON d.database_id = f.database_id AND d.name = N'mgc'", "21"},
		// string keys join case-insensitively, as the comparison does
		{"SELECT COUNT(*) FROM msdb.dbo.backupset b JOIN sys.databases d ON UPPER(b.database_name) = d.name", "3"},
		{"SELECT COUNT(*) FROM msdb.dbo.backupset b JOIN (SELECT UPPER(name) AS n FROM sys.databases) d ON b.database_name = d.n", "3"},
	}
	for _, c := range cases {
		if got := scalarText(t, s, c.sql); got != c.want {
			t.Errorf("%s = %s, want %s", c.sql, got, c.want)
		}
	}
}

func TestEffectMessagesAndResultShapes(t *testing.T) {
	first, redo := MustLSN("9223372036854775808000301"), MustLSN("9223372036854775808000201")
	e := ErrLogTooRecent(first, redo)
	if e.Number != 4305 || e.Class != 16 || !strings.Contains(e.Message, "begins at LSN 9223372036854775808000301") || !strings.Contains(e.Message, "includes LSN 9223372036854775808000201") {
		t.Errorf("4305: %+v", e)
	}
	if m := ErrTerminating(RestoreLog.String()); m.Number != 3013 || m.Message != "RESTORE LOG is terminating abnormally." {
		t.Errorf("3013: %+v", m)
	}
	if m := InfoJobStarted("LSCopy_mgc"); !m.IsInfo() || m.Message != "Job 'LSCopy_mgc' started successfully." {
		t.Errorf("14243: %+v", m)
	}
	// a backend answering RESTORE HEADERONLY with the documented shape reaches the client as is
	s, b := newTestSession(t, true)
	b.HandleProc("xp_dirtree", func(context.Context, *SessionInfo, *ExecStmt) (*EffectResult, error) {
		row := XPDirTree.NewRow()
		XPDirTree.Set(row, "subdirectory", NStr("mgc_1.trn"))
		XPDirTree.Set(row, "depth", Int(1))
		XPDirTree.Set(row, "file", Int(1))
		rs, err := XPDirTree.ResultSet(row)
		return &EffectResult{ResultSets: []*ResultSet{rs}}, err
	})
	rs := one(t, s, `EXEC master.sys.xp_dirtree N'D:\lscopy', 1, 1`)
	if len(rs.Rows) != 1 || rs.Columns[0].Name != "subdirectory" || rs.Rows[0][0].Text() != "mgc_1.trn" {
		t.Errorf("xp_dirtree: %+v", rs)
	}
	if i := HeaderOnlyResult.Index("FirstLSN"); i < 0 || HeaderOnlyResult.Columns[i].Type != TypeLSN {
		t.Errorf("HEADERONLY FirstLSN: %d", i)
	}
}

func TestGroupByExpressionsIIFCollate(t *testing.T) {
	s, _ := newTestSession(t, true)
	rs := one(t, s, "SELECT CASE WHEN database_id > 4 THEN 'user' ELSE 'system' END AS kind, COUNT(*) AS n FROM sys.databases GROUP BY CASE WHEN database_id > 4 THEN 'user' ELSE 'system' END ORDER BY kind")
	if len(rs.Rows) != 2 || rs.Rows[0][0].Text() != "system" || rs.Rows[0][1].Text() != "4" || rs.Rows[1][1].Text() != "6" {
		t.Errorf("group by expression: %v", rs.Rows)
	}
	rs = one(t, s, "SELECT UPPER(state_desc), COUNT(*) FROM sys.databases GROUP BY upper( STATE_DESC ) HAVING COUNT(*) >= 2 ORDER BY 2 DESC")
	if len(rs.Rows) != 2 || rs.Rows[0][0].Text() != "ONLINE" {
		t.Errorf("group by function: %v", rs.Rows)
	}
	r := run(t, s, "SELECT database_id, COUNT(*) FROM sys.databases GROUP BY UPPER(state_desc)")
	if got := errNumbers(r); len(got) != 1 || got[0] != 8120 {
		t.Errorf("ungrouped column: %v", got)
	}
	if got := scalarText(t, s, "SELECT IIF(1 > 2, 'a', 'b')"); got != "b" {
		t.Errorf("IIF = %s", got)
	}
	if got := scalarText(t, s, "SELECT COUNT(*) FROM sys.databases WHERE name COLLATE Latin1_General_CI_AS = N'MGC' COLLATE DATABASE_DEFAULT"); got != "1" {
		t.Errorf("COLLATE = %s", got)
	}
}

func TestCatalogDefinitions(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range append(append([]*TableDef(nil), Catalog...), HeaderOnlyResult, DBMMonitorResults, HelpLogShippingMonitor, XPDirTree) {
		key := strings.ToLower(d.Database + "." + d.Schema + "." + d.Name)
		if seen[key] {
			t.Errorf("%s defined twice", key)
		}
		seen[key] = true
		if d.Source == "" || len(d.Columns) == 0 {
			t.Errorf("%s: no source or no columns", key)
		}
		cols := map[string]bool{}
		for _, c := range d.Columns {
			if cols[strings.ToLower(c.Name)] {
				t.Errorf("%s: column %s twice", key, c.Name)
			}
			cols[strings.ToLower(c.Name)] = true
			if c.Type.Kind == KindUnknown {
				t.Errorf("%s.%s: no type", key, c.Name)
			}
		}
	}
	// every catalog table answers SELECT * with its documented columns, even when empty
	s, _ := newTestSession(t, true)
	for _, d := range Catalog {
		db := d.Database
		if db == "" {
			db = "master"
		}
		rs := one(t, s, "SELECT * FROM "+db+"."+d.Schema+"."+d.Name)
		if len(rs.Columns) != len(d.Columns) {
			t.Errorf("%s: %d columns, want %d", d.Name, len(rs.Columns), len(d.Columns))
			continue
		}
		for i, c := range rs.Columns {
			if c.Name != d.Columns[i].Name || c.Type != d.Columns[i].Type {
				t.Errorf("%s column %d: %s %s, want %s %s", d.Name, i, c.Name, c.Type, d.Columns[i].Name, d.Columns[i].Type)
			}
		}
	}
	// msdb tables exist only in msdb
	r := run(t, s, "SELECT * FROM master.dbo.backupset")
	if got := errNumbers(r); len(got) != 1 || got[0] != 208 {
		t.Errorf("backupset in master: %v", got)
	}
	// spot checks of documented types
	for _, c := range []struct {
		def  *TableDef
		col  string
		want Type
	}{
		{SysDatabaseMirroring, "mirroring_failover_lsn", Numeric(25, 0)},
		{BackupSet, "time_zone", TypeSmallInt},
		{BackupSet, "type", Char(1)},
		{BackupMediaFamily, "physical_device_name", NVarChar(260)},
		{LogShippingMonitorSecondary, "last_restored_latency", TypeInt},
		{LogShippingMonitorHistoryDetail, "message", NVarChar(MaxLength)},
		{SysJobs, "enabled", TypeTinyInt},
		{SysMasterFiles, "redo_start_lsn", TypeLSN},
	} {
		if i := c.def.Index(c.col); i < 0 || c.def.Columns[i].Type != c.want {
			t.Errorf("%s.%s: want %s", c.def.Name, c.col, c.want)
		}
	}
}

func TestOverlongBackendStringsAreCut(t *testing.T) {
	s, b := newTestSession(t, true)
	ref := TableName{Database: "mgc", Schema: "dbo", Name: "odd"}
	b.DefineTable(ref, []Column{{Name: "v", Type: NVarChar(3)}})
	b.mu.Lock()
	b.tables[staticKey("mgc", "dbo", "odd")].Rows = [][]Value{{String(NVarChar(3), "abcdef")}} // a careless backend
	b.mu.Unlock()
	if got := scalarText(t, s, "SELECT v FROM mgc.dbo.odd"); got != "abc" {
		t.Errorf("overlong value sent as %q", got)
	}
}

func TestUnion(t *testing.T) {
	s, _ := newTestSession(t, true)
	rs := one(t, s, `SELECT 'primary' AS role, p.primary_database AS db, p.backup_threshold AS threshold FROM msdb.dbo.log_shipping_monitor_primary AS p
		UNION ALL
		SELECT 'secondary', s.secondary_database, s.restore_threshold FROM msdb.dbo.log_shipping_monitor_secondary AS s
		ORDER BY threshold DESC`)
	if len(rs.Rows) != 2 || rs.Columns[0].Name != "role" || rs.Rows[0][0].Text() != "primary" || rs.Rows[1][1].Text() != "lsdb" {
		t.Errorf("union all: %v %v", rs.Columns, rs.Rows)
	}
	if got := scalarText(t, s, "SELECT COUNT(*) FROM (SELECT 1 AS x UNION SELECT 1 UNION ALL SELECT 1) AS u"); got != "2" {
		t.Errorf("UNION then UNION ALL = %s rows, want 2", got)
	}
	if got := scalarText(t, s, "SELECT COUNT(*) FROM (SELECT N'a' AS x UNION SELECT 'A ' UNION SELECT NULL UNION SELECT NULL) AS u"); got != "2" {
		t.Errorf("UNION dedupes case-insensitively and NULLs together: %s", got)
	}
	rs = one(t, s, "SELECT 1 AS n UNION ALL SELECT 2.5 ORDER BY 1 DESC")
	if rs.Columns[0].Type.Kind != KindNumeric || rs.Rows[0][0].Text() != "2.5" {
		t.Errorf("union type/order: %v %v", rs.Columns[0].Type, rs.Rows)
	}
	for sql, num := range map[string]int32{
		"SELECT 1, 2 UNION SELECT 1":                  205,
		"SELECT 1 AS a UNION SELECT 2 ORDER BY b":     104,
		"SELECT 1 ORDER BY 1 UNION SELECT 2":          156,
		"SELECT NEWID() UNION SELECT 1":               206,
		"SELECT name FROM sys.databases UNION SELECT": 156,
	} {
		r := run(t, s, sql)
		if got := errNumbers(r); len(got) != 1 || got[0] != num {
			t.Errorf("%s: %v, want %d", sql, got, num)
		}
	}
}

func TestAggregates(t *testing.T) {
	s, _ := newTestSession(t, true)
	cases := []struct{ sql, want string }{
		{"SELECT COUNT(*) FROM mgc.dbo.messages WHERE id < 0", "0"},
		{"SELECT MAX(id) FROM mgc.dbo.messages WHERE id < 0", "NULL"},
		{"SELECT SUM(id) FROM mgc.dbo.messages", "1275"},
		{"SELECT AVG(id) FROM mgc.dbo.messages", "25"},
		{"SELECT AVG(CAST(id AS numeric(10,2))) FROM mgc.dbo.messages", "25.500000"},
		{"SELECT AVG(CAST(id AS float)) FROM mgc.dbo.messages", "25.5"},
		{"SELECT MIN(body) FROM mgc.dbo.messages", "message 1"},
		{"SELECT COUNT(DISTINCT state_desc) FROM sys.databases", "3"},
		{"SELECT COUNT(DISTINCT UPPER(state_desc)) + COUNT(state_desc) FROM sys.databases", "13"},
		{"SELECT SUM(DISTINCT database_id % 2) FROM sys.databases", "1"},
		{"SELECT COUNT(redo_start_lsn), COUNT_BIG(*) FROM sys.master_files", "6"},
		{"SELECT MAX(redo_start_lsn) FROM sys.master_files", "9223372036854775808000201"},
		{"SELECT SUM(CAST(last_lsn AS numeric(38,0))) FROM msdb.dbo.backupset", "27670116110564327424000603"},
	}
	for _, c := range cases {
		r := run(t, s, c.sql)
		if len(r.Errors()) > 0 || len(r.Results) != 1 {
			t.Errorf("%s: %v", c.sql, r.Errors())
			continue
		}
		if got := r.Results[0].Rows[0][0].Text(); got != c.want {
			t.Errorf("%s = %s, want %s", c.sql, got, c.want)
		}
	}
}

func TestControlFlow(t *testing.T) {
	s, b := newTestSession(t, true)
	cases := []struct {
		sql     string
		results []string // first value of each result set
		errs    []int32
	}{
		{"IF 1 = 1 SELECT 'a' ELSE SELECT 'b'", []string{"a"}, nil},
		{"IF 1 = 2 SELECT 'a' ELSE SELECT 'b'; SELECT 'c'", []string{"b", "c"}, nil},
		{"IF NULL = NULL SELECT 'a' ELSE SELECT 'unknown is not true'", []string{"unknown is not true"}, nil},
		{"IF EXISTS (SELECT 1 FROM sys.databases WHERE name = N'lsdb' AND state_desc = 'RESTORING') BEGIN SELECT 'restoring'; SELECT 'twice' END ELSE BEGIN SELECT 'no' END", []string{"restoring", "twice"}, nil},
		{"DECLARE @n int = 3; IF @n > 2 BEGIN IF @n > 5 SELECT 'big' ELSE SELECT 'medium' END", []string{"medium"}, nil},
		{"SELECT 1; RETURN; SELECT 2", []string{"1"}, nil},
		{"IF 1 = 1 BEGIN SELECT 1; RETURN END; SELECT 2", []string{"1"}, nil},
		{"BEGIN SELECT 1 END", []string{"1"}, nil},
		{"BEGIN TRAN; SELECT @@TRANCOUNT; COMMIT", []string{"1"}, nil},
		{"IF 1 = 1 SELECT nosuch FROM sys.databases; SELECT 2", nil, []int32{207}},
		{"IF 'x' SELECT 1", nil, []int32{4145}},
		{"IF 1 = 1 BEGIN SELECT 1", nil, []int32{102}},
		{"IF 1 = 1 BEGIN TRY SELECT 1 END TRY", nil, []int32{102}},
	}
	for _, c := range cases {
		r := run(t, s, c.sql)
		var got []string
		for _, rs := range r.Results {
			got = append(got, rs.Rows[0][0].Text())
		}
		if strings.Join(got, ",") != strings.Join(c.results, ",") {
			t.Errorf("%s: results %v, want %v", c.sql, got, c.results)
		}
		if e := errNumbers(r); len(e) != len(c.errs) || (len(e) > 0 && e[0] != c.errs[0]) {
			t.Errorf("%s: errors %v, want %v", c.sql, e, c.errs)
		}
	}
	// an effect inside IF runs only when the condition holds
	run(t, s, "IF DATABASEPROPERTYEX(N'lsdb', 'Status') = 'RESTORING' RESTORE DATABASE lsdb WITH RECOVERY ELSE RESTORE LOG lsdb FROM DISK = N'x' WITH NORECOVERY")
	ex := b.Executed()
	if len(ex) != 1 || ex[0].(*RestoreStmt).Kind != RestoreDatabase {
		t.Errorf("effects under IF: %+v", ex)
	}
	if _, err := Parse(strings.Repeat("IF 1 = 1 ", 1000) + "SELECT 1"); err == nil {
		t.Error("1000 nested IFs parsed; want error 191")
	}
}

func TestExecSessions(t *testing.T) {
	b := NewFixture(fixtureNow, 0)
	e := New(zap.NewNop(), b, nil)
	a := e.NewSession(SessionInfo{SPID: 51, Login: "sa", Sysadmin: true, Database: "master", AppName: "app-a"}, nil)
	m := e.NewSession(SessionInfo{SPID: 52, Login: "monitor", Database: "standbydb", AppName: "app-m", HostName: "h2"}, nil)
	rs := one(t, a, "SELECT session_id, login_name, program_name, status FROM sys.dm_exec_sessions WHERE database_id = DB_ID(N'standbydb')")
	if len(rs.Rows) != 1 || rs.Rows[0][0].Text() != "52" || rs.Rows[0][1].Text() != "monitor" || rs.Rows[0][3].Text() != "sleeping" {
		t.Errorf("sessions in standbydb: %v", rs.Rows)
	}
	run(t, m, "USE msdb")
	if got := scalarText(t, a, "SELECT COUNT(*) FROM sys.dm_exec_sessions WHERE database_id = DB_ID(N'standbydb')"); got != "0" {
		t.Errorf("after USE msdb: %s sessions in standbydb", got)
	}
	if got := scalarText(t, m, "SELECT status FROM sys.dm_exec_sessions WHERE session_id = @@SPID"); got != "running" {
		t.Errorf("own status %s", got)
	}
	m.Close()
	if got := scalarText(t, a, "SELECT COUNT(*) FROM master.sys.dm_exec_sessions"); got != "1" {
		t.Errorf("after close: %s sessions", got)
	}
}

func TestOffsetFetch(t *testing.T) {
	s, _ := newTestSession(t, true)
	rs := one(t, s, "SELECT id FROM mgc.dbo.messages ORDER BY id DESC OFFSET 10 ROWS FETCH NEXT 5 ROWS ONLY")
	if len(rs.Rows) != 5 || rs.Rows[0][0].Text() != "40" || rs.Rows[4][0].Text() != "36" {
		t.Errorf("offset/fetch: %v", rs.Rows)
	}
	rs = one(t, s, "SELECT id FROM mgc.dbo.messages ORDER BY id OFFSET 48 ROWS")
	if len(rs.Rows) != 2 {
		t.Errorf("offset only: %d rows", len(rs.Rows))
	}
	if rs := one(t, s, "SELECT id FROM mgc.dbo.messages ORDER BY id OFFSET 100 ROWS FETCH FIRST 1 ROW ONLY"); len(rs.Rows) != 0 {
		t.Errorf("offset past the end: %d rows", len(rs.Rows))
	}
	for sql, num := range map[string]int32{
		"SELECT TOP (1) id FROM mgc.dbo.messages ORDER BY id OFFSET 1 ROWS": 10741,
		"SELECT id FROM mgc.dbo.messages ORDER BY id OFFSET -1 ROWS":        10742,
		"SELECT id FROM mgc.dbo.messages OFFSET 1 ROWS":                     156,
	} {
		if got := errNumbers(run(t, s, sql)); len(got) != 1 || got[0] != num {
			t.Errorf("%s: %v, want %d", sql, got, num)
		}
	}
}

func TestMalformedBackendRowsAreAnErrorNotAPanic(t *testing.T) {
	s, b := newTestSession(t, true)
	b.DefineTable(TableName{Database: "mgc", Schema: "dbo", Name: "bad"}, []Column{{Name: "a", Type: TypeInt}, {Name: "b", Type: TypeInt}})
	b.mu.Lock()
	b.tables[staticKey("mgc", "dbo", "bad")].Rows = [][]Value{{Int(1)}}
	b.mu.Unlock()
	r := run(t, s, "SELECT * FROM mgc.dbo.bad")
	if got := errNumbers(r); len(got) != 1 || got[0] != 50000 {
		t.Errorf("malformed backend row: %v", got)
	}
}

func TestMalformedEffectResult(t *testing.T) {
	s, b := newTestSession(t, true)
	b.HandleProc("sp_bad", func(context.Context, *SessionInfo, *ExecStmt) (*EffectResult, error) {
		return &EffectResult{ResultSets: []*ResultSet{{Columns: []Column{{Name: "a", Type: TypeInt}}, Rows: [][]Value{{}}}}}, nil
	})
	r := run(t, s, "EXEC sp_bad; SELECT 1")
	if got := errNumbers(r); len(got) != 1 || got[0] != 50000 || len(r.Results) != 1 || len(r.Statuses) != 1 || r.Statuses[0] != 1 {
		t.Errorf("malformed effect result: errors %v results %d statuses %v", got, len(r.Results), r.Statuses)
	}
}

func TestMessageLineNumbers(t *testing.T) {
	s, _ := newTestSession(t, true)
	cases := []struct {
		sql  string
		line int32
	}{
		{"SELECT 1\nSELECT 2\nSELECT nosuch FROM sys.databases", 3},
		{"SELECT 1;\n\n  SELECT 1 / 0", 3},
		{"SELECT 1\nSELECT 2\nSELECT FROM WHERE", 3},
		{"SELECT 1\n\nUSE nodb", 3},
		{"IF 1 = 1\nBEGIN\n  SELECT 1\n  SELECT nosuch FROM sys.databases\nEND", 4},
	}
	for _, c := range cases {
		r := run(t, s, c.sql)
		errs := r.Errors()
		if len(errs) != 1 || errs[0].Line != c.line {
			t.Errorf("%q: errors %+v, want one on line %d", c.sql, errs, c.line)
		}
	}
	r := run(t, s, "SELECT 1\nPRINT 'hello'")
	if len(r.Messages) != 1 || r.Messages[0].Line != 2 || r.Messages[0].Message != "hello" {
		t.Errorf("PRINT: %+v", r.Messages)
	}
	// shared message values are never modified
	if errTooManyRows.Line != 0 {
		t.Errorf("a shared message got a line: %d", errTooManyRows.Line)
	}
}

func TestCommonTableExpressions(t *testing.T) {
	s, _ := newTestSession(t, true)
	rs := one(t, s, `WITH restored AS (
		SELECT rh.destination_database_name AS db, bs.last_lsn FROM msdb.dbo.restorehistory AS rh
		JOIN msdb.dbo.backupset AS bs ON bs.backup_set_id = rh.backup_set_id),
	newest (db, lsn) AS (SELECT db, MAX(last_lsn) FROM restored GROUP BY db)
	SELECT n.db, n.lsn, (SELECT COUNT(*) FROM restored r WHERE r.db = n.db) AS files FROM newest AS n`)
	if len(rs.Rows) != 1 || rs.Rows[0][0].Text() != "lsdb" || rs.Rows[0][1].Text() != "9223372036854775808000201" || rs.Rows[0][2].Text() != "2" {
		t.Errorf("cte: %v %v", rs.Columns, rs.Rows)
	}
	for sql, num := range map[string]int32{
		"WITH x AS (SELECT * FROM x) SELECT * FROM x":              208,
		"WITH x AS (SELECT 1 AS a), x AS (SELECT 2 AS a) SELECT 1": 239,
		"WITH x (a, b) AS (SELECT 1) SELECT * FROM x":              8158,
		"WITH x AS (SELECT 1) SELECT * FROM x":                     8155,
		"WITH x AS (SELECT 1 AS a) INSERT INTO t VALUES (1)":       156,
	} {
		if got := errNumbers(run(t, s, sql)); len(got) != 1 || got[0] != num {
			t.Errorf("%s: %v, want %d", sql, got, num)
		}
	}
}

func TestRankingFunctions(t *testing.T) {
	s, _ := newTestSession(t, true)
	// the classic "newest log backup per database": ROW_NUMBER in a CTE, filtered outside
	rs := one(t, s, `WITH b AS (
		SELECT database_name, backup_set_id, last_lsn,
		       ROW_NUMBER() OVER (PARTITION BY database_name ORDER BY backup_set_id DESC) AS rn
		FROM msdb.dbo.backupset WHERE type = 'L')
	SELECT database_name, backup_set_id, last_lsn, rn FROM b WHERE rn = 1`)
	if len(rs.Rows) != 1 || rs.Rows[0][1].Text() != "3" || rs.Rows[0][3].Text() != "1" || rs.Columns[3].Type != TypeBigInt {
		t.Errorf("newest per database: %v %v", rs.Columns, rs.Rows)
	}
	rs = one(t, s, `SELECT name, state_desc,
		RANK() OVER (ORDER BY state_desc) AS r, DENSE_RANK() OVER (ORDER BY state_desc) AS d,
		ROW_NUMBER() OVER (PARTITION BY state_desc ORDER BY name) AS n
		FROM sys.databases ORDER BY state_desc, name`)
	// states sorted: OFFLINE (1), ONLINE (7), RESTORING (2)
	want := map[string][3]string{"offdb": {"1", "1", "1"}, "master": {"2", "2", "1"}, "tempdb": {"2", "2", "7"}, "lsdb": {"9", "3", "1"}, "mirrordb": {"9", "3", "2"}}
	for _, r := range rs.Rows {
		if w, ok := want[r[0].Text()]; ok && (r[2].Text() != w[0] || r[3].Text() != w[1] || r[4].Text() != w[2]) {
			t.Errorf("%s: rank %s dense %s row %s, want %v", r[0].Text(), r[2].Text(), r[3].Text(), r[4].Text(), w)
		}
	}
	if rs := one(t, s, "SELECT name FROM sys.databases ORDER BY ROW_NUMBER() OVER (ORDER BY database_id DESC)"); rs.Rows[0][0].Text() != "standbydb" {
		t.Errorf("ranking in ORDER BY: %v", rs.Rows[0])
	}
	for sql, num := range map[string]int32{
		"SELECT name FROM sys.databases WHERE ROW_NUMBER() OVER (ORDER BY name) = 1": 4108,
		"SELECT ROW_NUMBER() OVER () FROM sys.databases":                             4112,
		"SELECT NTILE(2) OVER (ORDER BY name) FROM sys.databases":                    50000,
	} {
		if got := errNumbers(run(t, s, sql)); len(got) != 1 || got[0] != num {
			t.Errorf("%s: %v, want %d", sql, got, num)
		}
	}
}

func TestUseInsideExecuteSQLIsScoped(t *testing.T) {
	s, _ := newTestSession(t, true)
	r := &Recorder{}
	if err := s.Execute(context.Background(), "USE msdb; SELECT DB_NAME()", []Param{}, r); err != nil {
		t.Fatal(err)
	}
	if r.Results[0].Rows[0][0].Text() != "msdb" || s.Database() != "master" || r.Database != "master" {
		t.Errorf("inside %v, after %q, announced %q", r.Results[0].Rows, s.Database(), r.Database)
	}
	rs := one(t, s, "EXEC sp_executesql N'USE msdb'; SELECT DB_NAME()")
	if rs.Rows[0][0].Text() != "master" {
		t.Errorf("after EXEC sp_executesql: %v", rs.Rows)
	}
	run(t, s, "USE msdb")
	if s.Database() != "msdb" {
		t.Errorf("a plain USE must persist: %s", s.Database())
	}
}
