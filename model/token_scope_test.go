package model_test

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestTokenScopeRecord: a record stored before scopes existed (version 1,
// ending after the last-used address) reads as a write token created by
// no recorded user, and a current record keeps its scope and creator.
func TestTokenScopeRecord(t *testing.T) {
	t.Parallel()
	key := model.TokenKey(model.NewTokenValue())
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	old := model.Token{ID: "abcdefghijkm", UserID: 3, CreatedAt: at, ExpiresAt: at.AddDate(1, 0, 0), LastUsedIP: "::1"}
	cur := model.EncodeToken(&old) // empty scope and creator 0: the last two bytes
	v1 := append([]byte{1}, cur[1:len(cur)-2]...)
	got, err := model.DecodeToken(key, v1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Scope != model.TokenScopeWrite || got.ReadOnly() || got.CreatedBy != 0 || got.ID != old.ID || got.LastUsedIP != "::1" {
		t.Errorf("old record read as %+v", got)
	}
	for _, tok := range []model.Token{
		{ID: "r", UserID: 1, Scope: model.TokenScopeRead, CreatedBy: 7, CreatedAt: at, ExpiresAt: at},
		{ID: "w", UserID: 1, Scope: model.TokenScopeWrite, CreatedBy: 1 << 40},
	} {
		tok.Hash = hex.EncodeToString(key)
		got, err := model.DecodeToken(key, model.EncodeToken(&tok))
		if err != nil || got.Scope != tok.Scope || got.CreatedBy != tok.CreatedBy || got.ReadOnly() != (tok.Scope == model.TokenScopeRead) {
			t.Errorf("round trip of %+v gave %+v, %v", tok, got, err)
		}
	}
}

// TestTokenScope: creation stores the scope (write when none is chosen)
// and the creator; a scope other than read or write is refused on
// "scope", at creation and in a change; a change of scope is audited and
// shows at the very next lookup, past the lookup cache.
func TestTokenScope(t *testing.T) {
	t.Parallel()
	s := testkit.NewStore(t)
	alice := testkit.AddUser(t, s, "alice")
	admin := testkit.AddUser(t, s, "root")
	exp := s.Now().Add(time.Hour)
	by := model.ActorFor(admin, "192.0.2.1")
	_, def, err := s.CreateToken(alice.ID, model.NewToken{ExpiresAt: exp}, model.CLIActor)
	if err != nil || def.Scope != model.TokenScopeWrite || def.CreatedBy != 0 {
		t.Fatalf("default token: %+v, %v", def, err)
	}
	value, tok, err := s.CreateToken(alice.ID, model.NewToken{ExpiresAt: exp, Scope: model.TokenScopeRead, CreatedBy: admin.ID}, by)
	if err != nil || tok.Scope != model.TokenScopeRead || tok.CreatedBy != admin.ID || !tok.ReadOnly() {
		t.Fatalf("read token: %+v, %v", tok, err)
	}
	for _, bad := range []string{"admin", "READ", " read", "write,read"} {
		_, _, err := s.CreateToken(alice.ID, model.NewToken{ExpiresAt: exp, Scope: bad}, by)
		wantField(t, err, "scope")
		_, err = s.UpdateToken(alice.ID, tok.ID, model.TokenPatch{Scope: &bad}, by)
		wantField(t, err, "scope")
	}
	if got, _, err := s.TokenByValue(value); err != nil || got.Scope != model.TokenScopeRead {
		t.Fatalf("lookup before the change: %+v, %v", got, err)
	}
	write := model.TokenScopeWrite
	if _, err := s.UpdateToken(alice.ID, tok.ID, model.TokenPatch{Scope: &write}, by); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.TokenByValue(value); err != nil || got.Scope != model.TokenScopeWrite || got.CreatedBy != admin.ID {
		t.Fatalf("lookup after the change: %+v, %v", got, err)
	}
	ev := eventsWith(t, s, model.EventTokenModified)
	if len(ev) != 1 || ev[0].Detail != "token "+tok.ID+": scope read → write" {
		t.Errorf("modify events: %+v", ev)
	}
}
