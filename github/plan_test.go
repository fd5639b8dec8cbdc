package github

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fountainai/fountain"
)

// GitHub's plans, by exact value from hand-written facts: no GitHub, no
// stand-in, no store.

var (
	planLoc   = location{repo: Repo{Owner: "octocat", Name: "hello-world"}}
	planKey   = SecretKey{API: "https://api.github.com/", Repo: "octocat/hello-world", Name: "DEPLOY_KEY"}
	macOne    = []byte("mac-of-value-one")
	macTwo    = []byte("mac-of-value-two")
	written   = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	laterOnGH = written.Add(time.Hour)
)

// write is the request of the plans below: DEPLOY_KEY of octocat/hello-world,
// whose value has the keyed hash macOne.
func write(mod ...func(*SecretWrite)) SecretWrite {
	w := SecretWrite{SecretRef: SecretRef{Repo: "octocat/hello-world", Name: "DEPLOY_KEY"}, Value: ValueSent, MAC: macOne, Key: planKey}
	for _, m := range mod {
		m(&w)
	}
	return w
}

// facts says GitHub holds the secret (written at at) and Fountain's record
// has mac (nil: no record).
func facts(exists bool, at time.Time, mac []byte) SecretFacts {
	f := SecretFacts{KeyID: "568250167242549743", Key: "bWFkZS11cC1wdWJsaWMta2V5LW9mLTMyLWJ5dGVzISE=", Stored: true}
	if exists {
		f.Exists, f.UpdatedAt = true, at
	}
	if mac != nil {
		f.Record = &SecretRecord{SecretKey: planKey, MAC: mac, UpdatedAt: written}
	}
	return f
}

// writeChange is the seal-and-write change of DEPLOY_KEY with reason.
func writeChange(reason string) fountain.Change {
	return fountain.Change{Name: "seal and write secret DEPLOY_KEY in octocat/hello-world", Change: true, Reason: reason,
		Calls: []string{
			"seal the value sent with the public key 568250167242549743 of octocat/hello-world (nacl/box)",
			"PUT repos/octocat/hello-world/actions/secrets/DEPLOY_KEY",
		},
		Effect: putSecret{Loc: planLoc, Name: "DEPLOY_KEY", KeyID: "568250167242549743",
			Key: "bWFkZS11cC1wdWJsaWMta2V5LW9mLTMyLWJ5dGVzISE=", Value: ValueSent}}
}

var recordChange = fountain.Change{Name: "record the write of DEPLOY_KEY", Change: true,
	Reason: "remember a keyed hash of the value and GitHub's updated_at after the write",
	Calls:  []string{"GET repos/octocat/hello-world/actions/secrets/DEPLOY_KEY", "store the keyed hash and updated_at in Fountain's record"},
	Effect: recordWrite{Loc: planLoc, Name: "DEPLOY_KEY", Key: planKey, MAC: macOne}}

func TestPlanSetSecret(t *testing.T) {
	noStore := facts(true, laterOnGH, nil)
	noStore.Stored = false
	cases := []struct {
		name    string
		in      SecretWrite
		f       SecretFacts
		want    fountain.Plan
		compare string // the compare step's output
		action  string
		message string // with GitHub's status 201 for a create, 204 for an update
	}{
		{name: "create", in: write(), f: facts(false, time.Time{}, nil),
			want:    fountain.Plan{Changes: []fountain.Change{writeChange("secret DEPLOY_KEY does not exist in octocat/hello-world"), recordChange}},
			compare: "Fountain has no record of writing this secret", action: ActionCreated,
			message: "Secret DEPLOY_KEY created in octocat/hello-world."},
		{name: "same value, record fresh", in: write(), f: facts(true, written, macOne),
			want: fountain.Plan{Changes: []fountain.Change{{Name: "seal and write secret DEPLOY_KEY in octocat/hello-world",
				Reason: "same value as Fountain's last write, and GitHub's updated_at still matches it"}}},
			compare: "same value as Fountain's last write, and GitHub's updated_at still matches it", action: ActionUnchanged,
			message: "Secret DEPLOY_KEY in octocat/hello-world unchanged: it already holds this value (Fountain wrote it at 2026-11-02T10:00:00Z " +
				"and GitHub's updated_at still matches), so nothing was sent. GitHub cannot confirm a secret's value; Fountain compares a keyed hash " +
				"of what it last sent (send force to write anyway)."},
		{name: "changed value", in: write(), f: facts(true, written, macTwo),
			want: fountain.Plan{Changes: []fountain.Change{writeChange("it exists (updated_at 2026-11-02T10:00:00Z); the value differs from Fountain's last write"),
				recordChange}},
			compare: "the value differs from Fountain's last write", action: ActionUpdated,
			message: "Secret DEPLOY_KEY in octocat/hello-world updated with a value other than Fountain's last write. " +
				"GitHub cannot confirm whether an update changed the value."},
		{name: "stale record: written on GitHub since", in: write(), f: facts(true, laterOnGH, macOne),
			want: fountain.Plan{Changes: []fountain.Change{writeChange("it exists (updated_at 2026-11-02T11:00:00Z); same value as Fountain's last write, " +
				"but it was changed outside Fountain: GitHub's updated_at is 2026-11-02T11:00:00Z, Fountain's last write was at 2026-11-02T10:00:00Z"),
				recordChange}},
			compare: "same value as Fountain's last write, but it was changed outside Fountain: GitHub's updated_at is 2026-11-02T11:00:00Z, " +
				"Fountain's last write was at 2026-11-02T10:00:00Z", action: ActionUpdated,
			message: "Secret DEPLOY_KEY in octocat/hello-world updated: written again because it was changed outside Fountain: GitHub's updated_at " +
				"is 2026-11-02T11:00:00Z, Fountain's last write was at 2026-11-02T10:00:00Z. GitHub cannot confirm whether an update changed the value."},
		{name: "deleted on GitHub since", in: write(), f: facts(false, time.Time{}, macOne),
			want: fountain.Plan{Changes: []fountain.Change{writeChange("secret DEPLOY_KEY does not exist in octocat/hello-world: " +
				"it was deleted on GitHub since Fountain wrote it"), recordChange}},
			compare: "same value as Fountain's last write, but it was deleted on GitHub since Fountain wrote it", action: ActionCreated,
			message: "Secret DEPLOY_KEY created in octocat/hello-world."},
		{name: "force", in: write(func(w *SecretWrite) { w.Force = true }), f: facts(true, written, macOne),
			want: fountain.Plan{Changes: []fountain.Change{writeChange("it exists (updated_at 2026-11-02T10:00:00Z); same value as Fountain's last write, " +
				"but force was asked"), recordChange}},
			compare: "same value as Fountain's last write, but force was asked", action: ActionUpdated,
			message: "Secret DEPLOY_KEY in octocat/hello-world updated: written again because force was asked. " +
				"GitHub cannot confirm whether an update changed the value."},
		{name: "exists, no record", in: write(), f: facts(true, laterOnGH, nil),
			want: fountain.Plan{Changes: []fountain.Change{writeChange("it exists (updated_at 2026-11-02T11:00:00Z); Fountain has no record of writing this secret"),
				recordChange}},
			compare: "Fountain has no record of writing this secret", action: ActionUpdated,
			message: "Secret DEPLOY_KEY in octocat/hello-world updated. GitHub cannot confirm whether an update changed the value, so Fountain reports it changed."},
		{name: "no store", in: write(func(w *SecretWrite) { w.MAC = nil }), f: noStore,
			want: fountain.Plan{Changes: []fountain.Change{
				writeChange("it exists (updated_at 2026-11-02T11:00:00Z); Fountain keeps no record of its writes to compare with"),
				{Name: "record the write of DEPLOY_KEY", Change: true, Reason: "read GitHub's updated_at after the write (no store: nothing is recorded)",
					Calls:  []string{"GET repos/octocat/hello-world/actions/secrets/DEPLOY_KEY"},
					Effect: recordWrite{Loc: planLoc, Name: "DEPLOY_KEY", Key: planKey}}}},
			action:  ActionUpdated,
			message: "Secret DEPLOY_KEY in octocat/hello-world updated. GitHub cannot confirm whether an update changed the value, so Fountain reports it changed."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := PlanSetSecret(c.in, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, c.want) {
				t.Fatalf("plan\n%#v\nwant\n%#v", p, c.want)
			}
			if p.Changed() != (c.action != ActionUnchanged) {
				t.Fatalf("changed = %v for %s", p.Changed(), c.action)
			}
			d := decideSet(c.in, c.f)
			if d.Compare != c.compare || d.Action != c.action {
				t.Fatalf("decision = %+v, want compare %q, action %s", d, c.compare, c.action)
			}
			status := 204
			if c.action == ActionCreated {
				status = 201
			}
			if m := setMessage(planLoc, "DEPLOY_KEY", c.f, d, status, false); m != c.message {
				t.Fatalf("message\n%q\nwant\n%q", m, c.message)
			}
			// The plan never holds a value, only its reference.
			for _, ch := range p.Changes {
				if e, ok := ch.Effect.(putSecret); ok && e.Value != ValueSent {
					t.Fatalf("effect refers to %q", e.Value)
				}
			}
		})
	}
}

func TestSetMessagesOfADryRun(t *testing.T) {
	for _, c := range []struct {
		f    SecretFacts
		in   SecretWrite
		want string
	}{
		{facts(false, time.Time{}, nil), write(), "Dry run: secret DEPLOY_KEY would be created in octocat/hello-world; nothing was sent."},
		{facts(true, written, macTwo), write(), "Dry run: secret DEPLOY_KEY in octocat/hello-world would be updated; nothing was sent."},
		{facts(true, written, macOne), write(func(w *SecretWrite) { w.Force = true }),
			"Dry run: secret DEPLOY_KEY in octocat/hello-world would be written again because force was asked; nothing was sent."},
		{facts(true, written, macOne), write(), "Dry run: Secret DEPLOY_KEY in octocat/hello-world unchanged: it already holds this value " +
			"(Fountain wrote it at 2026-11-02T10:00:00Z and GitHub's updated_at still matches), so nothing was sent. GitHub cannot confirm " +
			"a secret's value; Fountain compares a keyed hash of what it last sent (send force to write anyway)."},
	} {
		if got := setMessage(planLoc, "DEPLOY_KEY", c.f, decideSet(c.in, c.f), 0, true); got != c.want {
			t.Errorf("got\n%q\nwant\n%q", got, c.want)
		}
	}
}

func TestPlanSetSecretEnvironmentAndRefusals(t *testing.T) {
	in := write(func(w *SecretWrite) { w.Environment = "production" })
	p, err := PlanSetSecret(in, facts(false, time.Time{}, nil))
	if err != nil {
		t.Fatal(err)
	}
	envLoc := location{repo: planLoc.repo, env: "production"}
	w := p.Changes[0]
	if w.Name != `seal and write secret DEPLOY_KEY in octocat/hello-world environment "production"` ||
		w.Calls[1] != "PUT repos/octocat/hello-world/environments/production/secrets/DEPLOY_KEY" ||
		!reflect.DeepEqual(w.Effect, putSecret{Loc: envLoc, Name: "DEPLOY_KEY", KeyID: "568250167242549743",
			Key: "bWFkZS11cC1wdWJsaWMta2V5LW9mLTMyLWJ5dGVzISE=", Value: ValueSent}) {
		t.Fatalf("environment change = %#v", w)
	}
	if _, err := PlanSetSecret(write(func(w *SecretWrite) { w.Name = "GITHUB_X" }), SecretFacts{}); fountain.ErrorCode(err) != fountain.EINVALID {
		t.Fatalf("GITHUB_ name: %v", err)
	}
}

func TestPlanDeleteSecret(t *testing.T) {
	ref := SecretRef{Repo: "octocat/hello-world", Name: "DEPLOY_KEY"}
	del := fountain.Change{Name: "delete secret DEPLOY_KEY in octocat/hello-world", Change: true, Reason: "it exists (updated_at 2026-11-02T10:00:00Z)",
		Calls: []string{"DELETE repos/octocat/hello-world/actions/secrets/DEPLOY_KEY"}, Effect: deleteSecret{Loc: planLoc, Name: "DEPLOY_KEY"}}
	forget := fountain.Change{Name: "forget Fountain's record of DEPLOY_KEY", Change: true, Reason: "Fountain recorded writing it at 2026-11-02T10:00:00Z",
		Calls: []string{"delete the keyed hash and updated_at from Fountain's record"}, Effect: forgetRecord{Key: planKey}}
	absent := fountain.Change{Name: "delete secret DEPLOY_KEY in octocat/hello-world", Reason: "secret DEPLOY_KEY does not exist in octocat/hello-world"}
	for _, c := range []struct {
		name    string
		f       SecretFacts
		want    fountain.Plan
		message string
	}{
		{"present, recorded", facts(true, written, macOne), fountain.Plan{Changes: []fountain.Change{del, forget}},
			"Secret DEPLOY_KEY deleted from octocat/hello-world."},
		{"present, not recorded", facts(true, written, nil), fountain.Plan{Changes: []fountain.Change{del}},
			"Secret DEPLOY_KEY deleted from octocat/hello-world."},
		{"absent", facts(false, time.Time{}, nil), fountain.Plan{Changes: []fountain.Change{absent}},
			"Secret DEPLOY_KEY does not exist in octocat/hello-world: nothing to delete."},
		// Deleted on GitHub by hand: only the record is left to forget.
		{"absent, recorded", facts(false, time.Time{}, macOne), fountain.Plan{Changes: []fountain.Change{absent, forget}},
			"Secret DEPLOY_KEY does not exist in octocat/hello-world: nothing to delete."},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := PlanDeleteSecret(ref, planKey, c.f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, c.want) {
				t.Fatalf("plan\n%#v\nwant\n%#v", p, c.want)
			}
			if m := deleteMessage(planLoc, "DEPLOY_KEY", c.f, false); m != c.message {
				t.Fatalf("message = %q", m)
			}
		})
	}
	if m := deleteMessage(planLoc, "DEPLOY_KEY", facts(true, written, nil), true); m != "Dry run: secret DEPLOY_KEY would be deleted from octocat/hello-world; nothing was sent." {
		t.Fatalf("dry-run message = %q", m)
	}
}

func TestPlanInstallWorkflow(t *testing.T) {
	in := InstallWorkflowInput{Repo: "octocat/hello-world", Spec: WorkflowSpec{Image: "ghcr.io/octocat/app", TestCommand: "make test"}}
	const content = "name: ci\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
	const other = "name: mine\non: push\njobs:\n  test:\n    runs-on: ubuntu-22.04\n"
	repo := Repo{Owner: "octocat", Name: "hello-world"}
	const path = ".github/workflows/docker-ci.yml"

	// New: created, the diff from /dev/null.
	p, err := PlanInstallWorkflow(in, []byte(content), FileFacts{})
	if err != nil {
		t.Fatal(err)
	}
	want := fountain.Plan{Changes: []fountain.Change{{Name: "commit " + path + " to octocat/hello-world", Change: true,
		Reason: "there is no file at " + path,
		Diff:   "--- /dev/null\n+++ b/" + path + "\n@@ -0,0 +1,5 @@\n+name: ci\n+on: push\n+jobs:\n+  test:\n+    runs-on: ubuntu-latest\n",
		Calls:  []string{"PUT repos/octocat/hello-world/contents/" + path + " (create)"},
		Effect: commitFile{Repo: repo, Path: path, Content: content,
			Message: "Add docker-ci.yml (rendered by Fountain): test, then push ghcr.io/octocat/app"}}}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("new\n%#v\nwant\n%#v", p, want)
	}

	// The same file: nothing.
	p, err = PlanInstallWorkflow(in, []byte(content), FileFacts{Exists: true, SHA: "abc123", Content: content})
	want = fountain.Plan{Changes: []fountain.Change{{Name: "commit " + path + " to octocat/hello-world", Reason: path + " already holds this workflow"}}}
	if err != nil || !reflect.DeepEqual(p, want) {
		t.Fatalf("same\n%#v %v\nwant\n%#v", p, err, want)
	}
	// Force on the same file changes nothing either.
	forced := in
	forced.Force = true
	if p, err = PlanInstallWorkflow(forced, []byte(content), FileFacts{Exists: true, SHA: "abc123", Content: content}); err != nil || p.Changed() {
		t.Fatalf("same, forced: %#v %v", p, err)
	}

	// A different file: 409 with a hint, unless force.
	_, err = PlanInstallWorkflow(in, []byte(content), FileFacts{Exists: true, SHA: "abc123", Content: other})
	var fe *fountain.Error
	if !errorAs(err, &fe) || fe.Code != fountain.ECONFLICT || fe.Message != path+" in octocat/hello-world exists with other content" ||
		fe.Hint != "send force to replace it, or choose another path" {
		t.Fatalf("different: %v", err)
	}
	forced.Branch = "dev"
	p, err = PlanInstallWorkflow(forced, []byte(content), FileFacts{Exists: true, SHA: "abc123", Content: other})
	want = fountain.Plan{Changes: []fountain.Change{{Name: "commit " + path + " to octocat/hello-world", Change: true,
		Reason: path + " holds other content; force replaces it",
		Diff: "--- a/" + path + "\n+++ b/" + path + "\n@@ -1,5 +1,5 @@\n-name: mine\n+name: ci\n on: push\n jobs:\n   test:\n" +
			"-    runs-on: ubuntu-22.04\n+    runs-on: ubuntu-latest\n",
		Calls: []string{"PUT repos/octocat/hello-world/contents/" + path + " (replace blob abc123 on branch dev)"},
		Effect: commitFile{Repo: repo, Path: path, Branch: "dev", Content: content, SHA: "abc123",
			Message: "Replace docker-ci.yml (rendered by Fountain): test, then push ghcr.io/octocat/app"}}}}
	if err != nil || !reflect.DeepEqual(p, want) {
		t.Fatalf("forced\n%#v %v\nwant\n%#v", p, err, want)
	}

	// A directory at the path.
	if _, err := PlanInstallWorkflow(forced, []byte(content), FileFacts{Exists: true, Dir: true}); fountain.ErrorCode(err) != fountain.ECONFLICT ||
		!strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("directory: %v", err)
	}

	// The messages.
	in.Path = path
	for _, c := range []struct {
		f               FileFacts
		changed, dryRun bool
		want            string
	}{
		{FileFacts{}, true, false, path + " committed to octocat/hello-world: pushes to main now test, then push ghcr.io/octocat/app."},
		{FileFacts{}, true, true, "Dry run: " + path + " would be committed to octocat/hello-world: pushes to main would test, then push ghcr.io/octocat/app."},
		{FileFacts{Exists: true}, false, false, path + " in octocat/hello-world already holds this workflow: nothing committed."},
		{FileFacts{Exists: true}, true, false, path + " in octocat/hello-world replaced (force): pushes to main now test, then push ghcr.io/octocat/app."},
		{FileFacts{Exists: true}, true, true, "Dry run: " + path + " in octocat/hello-world would be replaced (force)."},
	} {
		if got := installMessage(in, repo, c.f, c.changed, c.dryRun); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

// The workflow's diff is textdiff's, with git's file names.
func TestFileDiff(t *testing.T) {
	if d := fileDiff("x.yml", "a\n", "a\nb\n", true); d != "--- a/x.yml\n+++ b/x.yml\n@@ -1 +1,2 @@\n a\n+b\n" {
		t.Fatalf("diff = %q", d)
	}
	if d := fileDiff("x.yml", "", "b\n", false); !strings.HasPrefix(d, "--- /dev/null\n+++ b/x.yml\n") {
		t.Fatalf("new file diff = %q", d)
	}
}

func errorAs(err error, fe **fountain.Error) bool { return errors.As(err, fe) }
