package model_test

import (
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-panel/gatehouse/model"
)

// oneMiB is a very long input for every validator.
var oneMiB = strings.Repeat("a1", 1<<19)

var usernameCases = []struct {
	name string
	in   string
	ok   bool
}{
	{"empty", "", false},
	{"2 chars", "ab", false},
	{"3 chars", "abc", true},
	{"32 chars", strings.Repeat("a", 32), true},
	{"33 chars", strings.Repeat("a", 33), false},
	{"all allowed classes", "Az09_-", true},
	{"digits only", "123", true},
	{"leading dash", "-ab", true},
	{"space", "a b", false},
	{"dot", "a.b", false},
	{"at sign", "bob@", false},
	{"html", "<script>", false},
	{"quote", `a"b`, false},
	{"non-ASCII letter", "jürgen", false},
	{"two 2-byte runes (4 bytes)", "ää", false},
	{"cyrillic look-alike", "b\u043eb", false},
	{"emoji", "ab😀", false},
	{"NUL", "ab\x00", false},
	{"newline", "abc\n", false},
	{"invalid UTF-8", "ab\xff", false},
	{"1 MiB", oneMiB, false},
}

func TestValidateUsername(t *testing.T) {
	t.Parallel()
	for _, tc := range usernameCases {
		t.Run(tc.name, func(t *testing.T) {
			err := model.ValidateUsername(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidateUsername(%.40q) = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err != nil && err.Error() == "" {
				t.Fatal("empty error message")
			}
		})
	}
}

var passwordCases = []struct {
	name string
	in   string
	ok   bool
}{
	{"empty", "", false},
	{"7 runes", "abcde12", false},
	{"8 runes", "abcdef12", true},
	{"20 runes", "abcdefghij123456789!", true},
	{"21 runes", "abcdefghij123456789!x", false},
	// Multi-byte runes count as one character each.
	{"umlauts 9 runes 11 bytes", "pässwörd1", true},
	{"7 runes but 13 bytes", "äöüäöü1", false},
	{"20 runes 39 bytes", strings.Repeat("ä", 19) + "1", true},
	{"21 runes 41 bytes", strings.Repeat("ä", 20) + "1", false},
	{"emoji count as other: 8 runes", "😀😀😀😀😀😀😀a", true},
	{"emoji 20 runes 77 bytes", strings.Repeat("😀", 19) + "a", true},
	{"emoji 21 runes", strings.Repeat("😀", 20) + "a", false},
	{"emoji only: one class", strings.Repeat("😀", 8), false},
	// Classes.
	{"letters only", "abcdefgh", false},
	{"non-ASCII letters only", "äöüßéèàç", false},
	{"digits only", "12345678", false},
	{"other only", "!@#$%^&*", false},
	{"spaces only", "        ", false},
	{"letters and digits", "abcdefg1", true},
	{"letters and other", "abcdefg!", true},
	{"digits and other", "1234567!", true},
	{"letters and space (space is other)", "abcd efg", true},
	{"digits and space", "1234 567", true},
	{"three classes", "abc123!!", true},
	{"non-ASCII digit counts as digit", "abcdefg\u0663", true},
	// Control characters are refused even when the rest is fine.
	{"tab", "abcdefg1\t", false},
	{"newline", "abcdefg1\n", false},
	{"NUL", "abc\x00defg1", false},
	{"DEL", "abcdefg1\x7f", false},
	{"C1 control", "abcdefg1\u0085", false},
	{"invalid UTF-8", "abcdefg1\xff", false},
	{"invalid UTF-8 only", strings.Repeat("\xff", 8), false},
	{"1 MiB", oneMiB, false},
}

func TestValidatePassword(t *testing.T) {
	t.Parallel()
	for _, tc := range passwordCases {
		t.Run(tc.name, func(t *testing.T) {
			err := model.ValidatePassword(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidatePassword(%.40q) = %v, want ok=%v", tc.in, err, tc.ok)
			}
		})
	}
}

// emailOf returns a syntactically valid address of exactly n bytes (n ≥ 70).
func emailOf(n int) string {
	local := strings.Repeat("a", 64)
	domain := strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "."
	rest := n - len(local) - 1 - len(domain)
	return local + "@" + domain + strings.Repeat("d", rest)
}

var emailCases = []struct {
	name string
	in   string
	ok   bool
}{
	{"plain", "bob@example.com", true},
	{"dots and plus", "first.last+tag@sub.example.org", true},
	{"no dot in domain (net/mail allows it)", "admin@localhost", true},
	{"UTF-8 local part (net/mail allows it)", "jürgen@example.com", true},
	// Characters that are legal atext but mean something in HTML are
	// accepted by the rule: templates must escape (html/template does).
	{"apostrophe and equals (legal atext)", "a'onload=x@example.com", true},
	{"254 bytes", emailOf(254), true},
	{"255 bytes", emailOf(255), false},
	{"1 MiB", oneMiB + "@example.com", false},
	{"empty", "", false},
	{"no @", "bobexample.com", false},
	{"no local part", "@example.com", false},
	{"no domain", "bob@", false},
	{"two @", "a@b@example.com", false},
	{"display name", "Bob <bob@example.com>", false},
	{"quoted display name", `"Bob" <bob@example.com>`, false},
	{"angle brackets only", "<bob@example.com>", false},
	{"leading space", " bob@example.com", false},
	{"trailing space", "bob@example.com ", false},
	{"trailing newline", "bob@example.com\n", false},
	{"comment", "bob@example.com (Bob)", false},
	{"two addresses", "bob@example.com, eve@example.com", false},
	{"quoted local part is normalised", `"bob"@example.com`, false},
	{"quoted script", `"<script>"@example.com`, false},
	{"script tag", "<script>alert(1)</script>@example.com", false},
	{"script in domain literal", "x@[<script>]", false},
	{"double dot", "a..b@example.com", false},
	{"invalid UTF-8", "a\xff@example.com", false},
	{"NUL", "a\x00@example.com", false},
}

func TestValidateEmail(t *testing.T) {
	t.Parallel()
	if n := len(emailOf(254)); n != 254 {
		t.Fatalf("emailOf(254) has %d bytes", n)
	}
	for _, tc := range emailCases {
		t.Run(tc.name, func(t *testing.T) {
			err := model.ValidateEmail(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidateEmail(%.60q) = %v, want ok=%v", tc.in, err, tc.ok)
			}
		})
	}
}

func TestValidationErrorFields(t *testing.T) {
	t.Parallel()
	err := model.NewUser{Username: "a", Password: "short", Email: "nope"}.Validate()
	for _, f := range []string{"username", "password", "email"} {
		wantField(t, err, f)
	}
	if err := (model.NewUser{Username: "bob", Password: "password1", Email: "bob@example.com"}).Validate(); err != nil {
		t.Fatalf("valid NewUser: %v", err)
	}
	if err := (model.UserPatch{}).Validate(); err != nil {
		t.Fatalf("empty patch: %v", err)
	}
	bad := "x"
	wantField(t, model.UserPatch{Email: &bad}.Validate(), "email")
}

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{3,32}$`)

func FuzzValidateUsername(f *testing.F) {
	for _, tc := range usernameCases {
		if len(tc.in) < 1000 {
			f.Add(tc.in)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := model.ValidateUsername(s)
		if want := usernameRE.MatchString(s); (err == nil) != want {
			t.Fatalf("ValidateUsername(%q) = %v, rule says ok=%v", s, err, want)
		}
	})
}

// passwordRule restates the contract's password rule independently.
func passwordRule(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	if n := utf8.RuneCountInString(s); n < 8 || n > 20 {
		return false
	}
	classes := map[string]bool{}
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp):
			return false
		case unicode.IsLetter(r):
			classes["letter"] = true
		case unicode.IsDigit(r):
			classes["digit"] = true
		default:
			classes["other"] = true
		}
	}
	return len(classes) >= 2
}

func FuzzValidatePassword(f *testing.F) {
	for _, tc := range passwordCases {
		if len(tc.in) < 1000 {
			f.Add(tc.in)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := model.ValidatePassword(s)
		if want := passwordRule(s); (err == nil) != want {
			t.Fatalf("ValidatePassword(%q) = %v, rule says ok=%v", s, err, want)
		}
	})
}

func FuzzValidateEmail(f *testing.F) {
	for _, tc := range emailCases {
		if len(tc.in) < 1000 {
			f.Add(tc.in)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		if model.ValidateEmail(s) != nil {
			return
		}
		if len(s) > model.EmailMaxLen {
			t.Fatalf("accepted %d bytes", len(s))
		}
		a, err := mail.ParseAddress(s)
		if err != nil || a.Name != "" || a.Address != s {
			t.Fatalf("accepted %q, but net/mail gives %+v, %v", s, a, err)
		}
		// Formatting and parsing again gives the same address.
		b, err := mail.ParseAddress(a.String())
		if err != nil || b.Address != s {
			t.Fatalf("accepted %q does not round-trip: %q → %+v, %v", s, a.String(), b, err)
		}
	})
}

// invisibleRunes are control (Cc), format (Cf: bidi controls, zero-width
// characters, the BOM, tags) and line/paragraph separator characters: none
// belongs in a name, an address or a password, and they make text display
// differently from what it is ("\u202E" shows "moc.elpmaxe" as
// "example.com").
var invisibleRunes = []rune{
	0x00, 0x09, 0x0a, 0x0d, 0x1b, 0x7f, 0x85, 0x9b, // Cc
	0xad, 0x061c, 0x180e, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f, // Cf
	0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2060, 0x2066, 0x2067, 0x2068, 0x2069,
	0xfeff, 0xfff9, 0xe0001, 0xe007f,
	0x2028, 0x2029, // Zl, Zp
}

// TestTextFieldsRefuseInvisibleCharacters: every field a person types
// refuses control and format characters, with a message naming the field
// and the character.
func TestTextFieldsRefuseInvisibleCharacters(t *testing.T) {
	validators := []struct {
		field    string
		validate func(string) error
		wrap     func(string) string
	}{
		{"username", model.ValidateUsername, func(r string) string { return "ab" + r + "c" }},
		{"email", model.ValidateEmail, func(r string) string { return "bob" + r + "@example.com" }},
		{"email", model.ValidateEmail, func(r string) string { return "bob@exa" + r + "mple.com" }},
		{"password", model.ValidatePassword, func(r string) string { return "abc" + r + "defg1" }},
		{"name", model.ValidatePasskeyName, func(r string) string { return "lap" + r + "top" }},
	}
	for _, v := range validators {
		for _, r := range invisibleRunes {
			in := v.wrap(string(r))
			err := v.validate(in)
			if err == nil {
				t.Errorf("%s %+q accepted", v.field, in)
				continue
			}
			if !strings.Contains(err.Error(), v.field) {
				t.Errorf("%s %+q: message %q does not name the field", v.field, in, err)
			}
		}
	}
	// Visible text outside ASCII is still fine where it was.
	for _, ok := range []error{
		model.ValidateEmail("jürgen@example.com"),
		model.ValidatePasskeyName("ノートパソコン"),
		model.ValidatePasskeyName("Alice's YubiKey 5C"),
		model.ValidatePassword("pässwörd1"),
	} {
		if ok != nil {
			t.Errorf("visible text refused: %v", ok)
		}
	}
	if err := model.ValidateText("email", "a\u202eb"); err == nil || !strings.Contains(err.Error(), "U+202E") {
		t.Errorf("ValidateText does not say which character: %v", err)
	}
	wantField(t, model.NewUser{Username: "bob", Password: "password1", Email: "b\u202eob@example.com"}.Validate(), "email")
	bad := "bob\u200b@example.com"
	wantField(t, model.UserPatch{Email: &bad}.Validate(), "email")
}

func FuzzValidateText(f *testing.F) {
	for _, r := range invisibleRunes {
		f.Add("a" + string(r) + "b")
	}
	f.Add("jürgen")
	f.Fuzz(func(t *testing.T, s string) {
		err := model.ValidateText("field", s)
		want := utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool {
			return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
		}) < 0
		if (err == nil) != want {
			t.Fatalf("ValidateText(%+q) = %v, want ok=%v", s, err, want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "field ") {
			t.Fatalf("message %q does not name the field", err)
		}
	})
}
