package model_test

import (
	"encoding/json"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// userRecord returns the raw stored record of user id, as Storm wrote it,
// decoded into a map of the stored field names.
func userRecord(t *testing.T, s *model.Store, id int) ([]byte, map[string]any) {
	t.Helper()
	var key []byte
	var rec map[string]any
	err := s.Bolt().View(func(btx *bolt.Tx) error {
		return btx.Bucket([]byte("User")).ForEach(func(k, v []byte) error {
			if v == nil {
				return nil // a nested bucket: Storm's metadata and indexes
			}
			var r map[string]any
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if n, _ := r["ID"].(float64); int(n) == id {
				key, rec = append([]byte(nil), k...), r
			}
			return nil
		})
	})
	if err != nil || rec == nil {
		t.Fatalf("the stored record of user %d: %v (found %v)", id, err, rec != nil)
	}
	return key, rec
}

// TestUserRecordKeepsStoredNames: a field renamed in Go keeps the name it
// is stored under, so that a database written before the rename reads the
// same. User.TwoFactor was TOTPEnabled: a record written with that name is
// read as 2FA on, and a record written now still uses it.
func TestUserRecordKeepsStoredNames(t *testing.T) {
	s := testkit.NewStore(t)
	u := testkit.CreateUser(t, s, "alice", "alice-pass-1", "alice@example.com")

	// A record as earlier versions wrote it, with 2FA on.
	key, rec := userRecord(t, s, u.ID)
	delete(rec, "TwoFactor")
	rec["TOTPEnabled"] = true
	old, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bolt().Update(func(btx *bolt.Tx) error {
		return btx.Bucket([]byte("User")).Put(key, old)
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.User(u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.TwoFactor {
		t.Errorf("a record stored with TOTPEnabled: true reads as TwoFactor %v", got.TwoFactor)
	}

	// Written now (2FA turned off), the record keeps the stored name.
	if err := s.DisableTwoFactor(u.ID, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	_, rec = userRecord(t, s, u.ID)
	if v, ok := rec["TOTPEnabled"]; !ok || v != false {
		t.Errorf("stored TOTPEnabled = %v (present %v), want false", v, ok)
	}
	if _, ok := rec["TwoFactor"]; ok {
		t.Errorf("the record is stored with a new field name TwoFactor: %v", rec)
	}
}
