package model

import "fmt"

// RemovePasskeysAndTokens deletes every passkey and access token of the
// user with userID, each deletion audited, in one transaction, and returns
// how many of each there were. After a password change these are the ways
// in that still work: someone who changed the password because it leaked
// ends the access an intruder may have added with them too.
func (s *Store) RemovePasskeysAndTokens(userID int, by Actor) (passkeys, tokens int, err error) {
	err = s.Update(func(tx *Tx) error {
		u, err := tx.User(userID)
		if err != nil {
			return err
		}
		pks, err := tx.passkeysOf(userID)
		if err != nil {
			return err
		}
		for i := range pks {
			if err := tx.n.DeleteStruct(&pks[i]); err != nil {
				return fmt.Errorf("model: delete passkey %s: %w", pks[i].ID, err)
			}
			if err := tx.Audit(by, EventPasskeyDeleted, u.ID, u.Username, fmt.Sprintf("passkey %s %q", pks[i].ID, pks[i].Name)); err != nil {
				return err
			}
		}
		if err := tx.syncPasskeyCount(userID); err != nil {
			return err
		}
		toks, err := tx.tokensOf(userID)
		if err != nil {
			return err
		}
		for i := range toks {
			if err := tx.deleteToken(toks[i]); err != nil {
				return fmt.Errorf("model: delete token %s: %w", toks[i].ID, err)
			}
			if err := tx.Audit(by, EventTokenDeleted, u.ID, u.Username, "token "+toks[i].ID); err != nil {
				return err
			}
		}
		passkeys, tokens = len(pks), len(toks)
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("model: remove passkeys and tokens of user %d: %w", userID, err)
	}
	return passkeys, tokens, nil
}
