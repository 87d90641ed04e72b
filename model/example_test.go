package model_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
)

// Example_createUser opens a data directory, creates a user, shows how a
// taken name and a bad field are reported, and logs the user in.
func Example_createUser() {
	dir, err := os.MkdirTemp("", "gatehouse-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	// Only `serve` passes Create; the CLI gets ErrNoDatabase instead.
	if _, err := model.Open(dir, model.Options{}); errors.Is(err, model.ErrNoDatabase) {
		fmt.Println("no database yet")
	}
	s, err := model.Open(dir, model.Options{
		Create: true,
		// Cheap parameters for the example; production uses model.DefaultArgon2.
		Argon2: &model.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
	})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()

	alice, err := s.CreateUser(ctx, model.NewUser{Username: "alice", Password: "correct horse 1", Email: "alice@example.com"}, model.CLIActor)
	if err != nil {
		panic(err)
	}
	fmt.Println("created", alice.Username, alice.Email)

	// Usernames are unique ignoring case.
	_, err = s.CreateUser(ctx, model.NewUser{Username: "ALICE", Password: "another pass 2", Email: "a2@example.com"}, model.CLIActor)
	if v, ok := model.AsValidation(err); ok && errors.Is(err, model.ErrConflict) {
		fmt.Println("conflict:", v.Fields["username"])
	}

	// Every invalid field gets its own message, keyed by the form field name.
	_, err = s.CreateUser(ctx, model.NewUser{Username: "bo", Password: "password", Email: "Bob <bob@example.com>"}, model.CLIActor)
	if v, ok := model.AsValidation(err); ok {
		fmt.Println(len(v.Fields), "invalid fields:", v)
	}

	// A wrong password and an unknown name give the same answer.
	_, err1 := s.Authenticate(ctx, "alice", "wrong pass 1")
	_, err2 := s.Authenticate(ctx, "mallory", "correct horse 1")
	fmt.Println(err1 == model.ErrInvalidCredentials, err2 == model.ErrInvalidCredentials)

	u, err := s.Authenticate(ctx, "Alice", "correct horse 1")
	if err != nil {
		panic(err)
	}
	token, _, err := s.CreateSession(u.ID, "192.0.2.1", "example", model.ActorFor(u, "192.0.2.1"), "password")
	if err != nil {
		panic(err)
	}
	_, who, err := s.SessionByToken(token, model.SessionPolicy{Idle: time.Hour, Max: 12 * time.Hour})
	fmt.Println("session of", who.Username, err)

	events, _, _ := s.AuditEvents(model.AuditFilter{})
	for _, e := range events {
		fmt.Println("audit:", e.Action, e.Target, "by", e.Actor)
	}
	// Output:
	// no database yet
	// created alice alice@example.com
	// conflict: this username is already taken
	// 3 invalid fields: email: email must be a valid address such as name@example.com; password: password must mix at least two of: letters, digits, special characters; username: username must be 3 to 32 characters long
	// true true
	// session of alice <nil>
	// audit: login.succeeded alice by alice
	// audit: user.created alice by cli
}

// ExampleValidatePassword shows the password rule: 8–20 characters counted
// as runes, at least two of letters, digits and other characters.
func ExampleValidatePassword() {
	for _, pw := range []string{"abcdefgh", "abcdefg1", "pässwörd", "pässwörd!", "1234 567", "short1!"} {
		fmt.Printf("%-10q %v\n", pw, model.ValidatePassword(pw))
	}
	// Output:
	// "abcdefgh" password must mix at least two of: letters, digits, special characters
	// "abcdefg1" <nil>
	// "pässwörd" password must mix at least two of: letters, digits, special characters
	// "pässwörd!" <nil>
	// "1234 567" <nil>
	// "short1!"  password must be 8 to 20 characters long
}
