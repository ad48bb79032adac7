// Package filter is the record filter language of orgsnap: the WHERE clause
// of SOQL, evaluated against backed-up records instead of sent to an org.
// `find`, `export`, `restore --where` and `erase --where` all take it, so a
// filter that selects records in one selects the same records in the others.
//
// # Grammar
//
//	filter     = or
//	or         = and { OR and }
//	and        = not { AND not }
//	not        = NOT not | "(" or ")" | comparison
//	comparison = field op value
//	           | field [NOT] LIKE string
//	           | field [NOT] IN "(" value { "," value } ")"
//	           | field INCLUDES "(" string { "," string } ")"
//	           | field EXCLUDES "(" string { "," string } ")"
//	op         = "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//	value      = string | number | TRUE | FALSE | NULL | date | datetime
//	field      = name { "." name }      name = letter { letter | digit | "_" }
//	string     = "'" { char | escape } "'"
//	escape     = \' \" \\ \n \r \t \b \f \uXXXX, and in LIKE patterns \% \_
//	number     = [+|-] digits [ "." digits ] [ (e|E) [+|-] digits ]
//	date       = YYYY-MM-DD
//	datetime   = YYYY-MM-DDTHH:MM:SS[.fff](Z | +HH:MM | -HH:MM | +HHMM | -HHMM)
//
// Keywords and field names are case-insensitive. AND binds tighter than OR
// (SOQL refuses to mix them without parentheses; this language accepts both
// forms). "Field NOT LIKE p" and SOQL's "NOT Field LIKE p" are the same.
//
// # Semantics (Salesforce's, as far as a backup can know them)
//
//   - Strings compare case-insensitively, for = and != and for ordering, as
//     they do in SOQL. LIKE is case-insensitive too: % matches any run of
//     characters, _ exactly one; \% and \_ match themselves.
//   - Numbers compare by value, exactly (18-digit currency values keep every
//     digit): 1.50 = 1.5.
//   - Dates and datetimes compare chronologically; a datetime literal with an
//     offset is converted to UTC first. When the field types are known (from
//     the snapshot's stored describe) a date literal on a datetime field, a
//     quoted number on a number field and the like are refused at Bind, as
//     SOQL refuses them.
//   - Id and reference fields take 15- or 18-character Ids; both mean the
//     same record.
//   - Two-valued logic, as in SOQL: a null field is = null and nothing else;
//     "Field != 'x'" and "Field NOT IN (…)" are true for a null field, and
//     <, >, LIKE and IN are false. On a boolean field null means false
//     (Salesforce booleans are never null).
//   - A field the record does not hold (a field added to the object after
//     the record was backed up) is null.
//   - INCLUDES/EXCLUDES test multi-select picklist values (';'-separated);
//     'a;b' in the list means both a and b.
//
// # Use
//
// Parse once, Bind to each object's fields (which resolves names, checks
// types and reports unknown fields with close matches), then Match each
// record. A Matcher is immutable and safe for concurrent use.
package filter
