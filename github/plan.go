package github

import (
	"crypto/hmac"
	"fmt"
	"time"

	"github.com/fountainai/fountain"
)

// Every change to GitHub is observe -> plan -> apply: the client observes
// GitHub (a public key, a secret's metadata, a file) and Fountain's record
// of its own writes into plain facts; the Plan* functions, pure, turn a
// request and facts into a fountain.Plan whose effects are small values of
// this package; the client's executor applies them. A plan never holds a
// secret's value: it names it (ValueRef), and compares a keyed hash of it
// with the record. A dry run shows the plan and writes nothing, neither to
// GitHub nor to the record.

// ValueRef names a secret value the executor holds: plans refer to values,
// they never carry them.
type ValueRef string

// ValueSent is the value a set-secret call brings.
const ValueSent ValueRef = "the value sent"

// SecretFacts is what GitHub and Fountain's record say of one secret, as
// plain data.
type SecretFacts struct {
	// KeyID and Key are the public key of the secret's repository or
	// environment (Key in base64, as GitHub gives it); empty when a plan
	// needs none (a delete).
	KeyID, Key string
	// Exists says whether GitHub has the secret; UpdatedAt is its
	// updated_at then.
	Exists    bool
	UpdatedAt time.Time
	// Stored says Fountain keeps records of its writes (a store is
	// configured); Record is its record of this secret, nil when none.
	Stored bool
	Record *SecretRecord
}

// SecretWrite is a set-secret request as its plan needs it: the secret,
// the value by reference with its keyed hash, and force.
type SecretWrite struct {
	SecretRef
	// Value names the value for the executor.
	Value ValueRef
	// MAC is SecretMAC of the value; nil without a store.
	MAC []byte
	// Key is the secret's key in Fountain's store.
	Key   SecretKey
	Force bool
}

// putSecret seals the value Value names with the public key Key (base64)
// and writes it to GitHub.
type putSecret struct {
	Loc   location
	Name  string
	KeyID string
	Key   string
	Value ValueRef
}

// recordWrite reads the secret's updated_at back from GitHub and, with
// MAC set, records it with the MAC in Fountain's store.
type recordWrite struct {
	Loc  location
	Name string
	Key  SecretKey
	MAC  []byte // nil: no store, nothing recorded
}

// deleteSecret deletes a secret on GitHub.
type deleteSecret struct {
	Loc  location
	Name string
}

// forgetRecord deletes Fountain's record of a secret.
type forgetRecord struct{ Key SecretKey }

// setDecision is what a set-secret plan decides, and why: the plan's
// changes, the compare step's output and the result's message all come
// from it.
type setDecision struct {
	Action  string // ActionCreated, ActionUpdated or ActionUnchanged
	Compare string // what comparing with the record found ("" without a store)
	Why     string // why Fountain writes a value it wrote before ("" if not)
	Found   bool   // Fountain has a record of the secret
}

// decideSet decides a set-secret from facts: create what GitHub lacks;
// with a record, write again only when the value differs from it, the
// record is stale (the secret was deleted or written on GitHub since) or
// force is asked; without one, always write.
func decideSet(in SecretWrite, f SecretFacts) setDecision {
	d := setDecision{Action: ActionUpdated, Found: f.Record != nil}
	if !f.Exists {
		d.Action = ActionCreated
	}
	if !f.Stored {
		return d
	}
	switch rec := f.Record; {
	case rec == nil:
		d.Compare = "Fountain has no record of writing this secret"
	case !hmac.Equal(rec.MAC, in.MAC):
		d.Compare = "the value differs from Fountain's last write"
	case !f.Exists:
		d.Why = "it was deleted on GitHub since Fountain wrote it"
	case !f.UpdatedAt.Equal(rec.UpdatedAt):
		d.Why = fmt.Sprintf("it was changed outside Fountain: GitHub's updated_at is %s, Fountain's last write was at %s",
			stamp(f.UpdatedAt), stamp(rec.UpdatedAt))
	case in.Force:
		d.Why = "force was asked"
	default:
		d.Action = ActionUnchanged
		d.Compare = "same value as Fountain's last write, and GitHub's updated_at still matches it"
	}
	if d.Why != "" {
		d.Compare = "same value as Fountain's last write, but " + d.Why
	}
	return d
}

// PlanSetSecret is the plan of add-secret: seal and write the value
// unless Fountain's record says GitHub holds it already (then nothing
// changes), and record the write.
func PlanSetSecret(in SecretWrite, f SecretFacts) (fountain.Plan, error) {
	loc, name, err := parseRef(in.SecretRef)
	if err != nil {
		return fountain.Plan{}, err
	}
	return planSet(loc, name, in, f, decideSet(in, f)), nil
}

func planSet(loc location, name string, in SecretWrite, f SecretFacts, d setDecision) fountain.Plan {
	var p fountain.Plan
	write := fountain.Change{Name: "seal and write secret " + name + " in " + loc.String()}
	switch {
	case d.Action == ActionUnchanged:
		write.Reason = d.Compare
		p.Add(write)
		return p
	case d.Action == ActionCreated && d.Why != "":
		write.Reason = fmt.Sprintf("secret %s does not exist in %s: %s", name, loc, d.Why)
	case d.Action == ActionCreated:
		write.Reason = fmt.Sprintf("secret %s does not exist in %s", name, loc)
	case d.Compare != "":
		write.Reason = fmt.Sprintf("it exists (updated_at %s); %s", stamp(f.UpdatedAt), d.Compare)
	default:
		write.Reason = fmt.Sprintf("it exists (updated_at %s); Fountain keeps no record of its writes to compare with", stamp(f.UpdatedAt))
	}
	write.Change = true
	write.Calls = []string{
		fmt.Sprintf("seal %s with the public key %s of %s (nacl/box)", in.Value, f.KeyID, loc),
		"PUT " + loc.path() + "/" + name,
	}
	write.Effect = putSecret{Loc: loc, Name: name, KeyID: f.KeyID, Key: f.Key, Value: in.Value}
	record := fountain.Change{Name: "record the write of " + name, Change: true,
		Reason: "remember a keyed hash of the value and GitHub's updated_at after the write",
		Calls:  []string{"GET " + loc.path() + "/" + name, "store the keyed hash and updated_at in Fountain's record"},
		Effect: recordWrite{Loc: loc, Name: name, Key: in.Key, MAC: in.MAC}}
	if !f.Stored {
		record.Reason = "read GitHub's updated_at after the write (no store: nothing is recorded)"
		record.Calls = record.Calls[:1]
		record.Effect = recordWrite{Loc: loc, Name: name, Key: in.Key}
	}
	p.Add(write, record)
	return p
}

// setMessage is what a set-secret says it did: status is GitHub's answer
// to the write (201 created, 204 updated), 0 when nothing was written.
func setMessage(loc location, name string, f SecretFacts, d setDecision, status int, dryRun bool) string {
	switch {
	case d.Action == ActionUnchanged:
		msg := fmt.Sprintf("Secret %s in %s unchanged: it already holds this value (Fountain wrote it at %s and GitHub's updated_at still matches), so nothing was sent. "+
			"GitHub cannot confirm a secret's value; Fountain compares a keyed hash of what it last sent (send force to write anyway).",
			name, loc, stamp(f.Record.UpdatedAt))
		if dryRun {
			msg = "Dry run: " + msg
		}
		return msg
	case dryRun && d.Action == ActionCreated:
		return fmt.Sprintf("Dry run: secret %s would be created in %s; nothing was sent.", name, loc)
	case dryRun && d.Why != "":
		return fmt.Sprintf("Dry run: secret %s in %s would be written again because %s; nothing was sent.", name, loc, d.Why)
	case dryRun:
		return fmt.Sprintf("Dry run: secret %s in %s would be updated; nothing was sent.", name, loc)
	case status == 201:
		return fmt.Sprintf("Secret %s created in %s.", name, loc)
	case d.Why != "":
		return fmt.Sprintf("Secret %s in %s updated: written again because %s. %s.", name, loc, d.Why, noConfirm)
	case d.Found:
		return fmt.Sprintf("Secret %s in %s updated with a value other than Fountain's last write. %s.", name, loc, noConfirm)
	}
	return fmt.Sprintf("Secret %s in %s updated. %s, so Fountain reports it changed.", name, loc, noConfirm)
}

// PlanDeleteSecret is the plan of delete-secret: delete the secret if
// GitHub has it, and forget Fountain's record of it if there is one.
func PlanDeleteSecret(ref SecretRef, key SecretKey, f SecretFacts) (fountain.Plan, error) {
	loc, name, err := parseRef(ref)
	if err != nil {
		return fountain.Plan{}, err
	}
	var p fountain.Plan
	del := fountain.Change{Name: "delete secret " + name + " in " + loc.String()}
	if f.Exists {
		del.Change, del.Reason = true, "it exists (updated_at "+stamp(f.UpdatedAt)+")"
		del.Calls = []string{"DELETE " + loc.path() + "/" + name}
		del.Effect = deleteSecret{Loc: loc, Name: name}
	} else {
		del.Reason = fmt.Sprintf("secret %s does not exist in %s", name, loc)
	}
	p.Add(del)
	if f.Record != nil {
		p.Add(fountain.Change{Name: "forget Fountain's record of " + name, Change: true,
			Reason: "Fountain recorded writing it at " + stamp(f.Record.UpdatedAt),
			Calls:  []string{"delete the keyed hash and updated_at from Fountain's record"},
			Effect: forgetRecord{Key: key}})
	}
	return p, nil
}

// deleteMessage is what a delete-secret says it did.
func deleteMessage(loc location, name string, f SecretFacts, dryRun bool) string {
	switch {
	case !f.Exists && dryRun:
		return fmt.Sprintf("Dry run: secret %s does not exist in %s: nothing to delete.", name, loc)
	case !f.Exists:
		return fmt.Sprintf("Secret %s does not exist in %s: nothing to delete.", name, loc)
	case dryRun:
		return fmt.Sprintf("Dry run: secret %s would be deleted from %s; nothing was sent.", name, loc)
	}
	return fmt.Sprintf("Secret %s deleted from %s.", name, loc)
}

// FileFacts is what GitHub says of the file at a path, as plain data.
type FileFacts struct {
	Exists  bool
	Dir     bool   // the path is a directory
	SHA     string // the blob SHA of the file
	Content string // the file, decoded
}

// commitFile creates (SHA "") or replaces (SHA of the file replaced) a
// file through the contents API.
type commitFile struct {
	Repo    Repo
	Path    string
	Branch  string // "": the default branch
	Content string
	SHA     string
	Message string
}

// PlanInstallWorkflow is the plan of install-workflow, whose workflow
// renders to content: commit the file if the path has none, nothing if
// it holds the same, replace a different file only with force (else
// ECONFLICT). A directory at the path is ECONFLICT.
func PlanInstallWorkflow(in InstallWorkflowInput, content []byte, f FileFacts) (fountain.Plan, error) {
	repo, err := ParseRepo(FieldRepo, in.Repo)
	if err != nil {
		return fountain.Plan{}, err
	}
	if in.Path == "" {
		in.Path = DefaultWorkflowPath
	}
	var p fountain.Plan
	c := fountain.Change{Name: "commit " + in.Path + " to " + repo.String()}
	branch := ""
	if in.Branch != "" {
		branch = " on branch " + in.Branch
	}
	switch {
	case f.Dir:
		return p, fountain.Errorf(fountain.ECONFLICT, "%s in %s is a directory", in.Path, repo)
	case !f.Exists:
		c.Reason = "there is no file at " + in.Path
		c.Diff = fileDiff(in.Path, "", string(content), false)
		c.Calls = []string{fmt.Sprintf("PUT repos/%s/contents/%s (create%s)", repo, in.Path, branch)}
		c.Effect = commitFile{Repo: repo, Path: in.Path, Branch: in.Branch, Content: string(content),
			Message: "Add docker-ci.yml (rendered by Fountain): test, then push " + in.Spec.Image}
	case f.Content == string(content):
		c.Reason = in.Path + " already holds this workflow"
		p.Add(c)
		return p, nil
	case !in.Force:
		return p, &fountain.Error{Code: fountain.ECONFLICT,
			Message: fmt.Sprintf("%s in %s exists with other content", in.Path, repo),
			Hint:    "send force to replace it, or choose another path"}
	default:
		c.Reason = in.Path + " holds other content; force replaces it"
		c.Diff = fileDiff(in.Path, f.Content, string(content), true)
		c.Calls = []string{fmt.Sprintf("PUT repos/%s/contents/%s (replace blob %s%s)", repo, in.Path, f.SHA, branch)}
		c.Effect = commitFile{Repo: repo, Path: in.Path, Branch: in.Branch, Content: string(content), SHA: f.SHA,
			Message: "Replace docker-ci.yml (rendered by Fountain): test, then push " + in.Spec.Image}
	}
	c.Change = true
	p.Add(c)
	return p, nil
}

// installMessage is what install-workflow says it did: changed is
// whether its plan commits anything.
func installMessage(in InstallWorkflowInput, repo Repo, f FileFacts, changed, dryRun bool) string {
	switch {
	case !changed && dryRun:
		return fmt.Sprintf("Dry run: %s in %s already holds this workflow: nothing to commit.", in.Path, repo)
	case !changed:
		return fmt.Sprintf("%s in %s already holds this workflow: nothing committed.", in.Path, repo)
	case dryRun && !f.Exists:
		return fmt.Sprintf("Dry run: %s would be committed to %s: pushes to %s would test, then push %s.", in.Path, repo, branchOr(in.Spec.Branch), in.Spec.Image)
	case dryRun:
		return fmt.Sprintf("Dry run: %s in %s would be replaced (force).", in.Path, repo)
	case !f.Exists:
		return fmt.Sprintf("%s committed to %s: pushes to %s now test, then push %s.", in.Path, repo, branchOr(in.Spec.Branch), in.Spec.Image)
	}
	return fmt.Sprintf("%s in %s replaced (force): pushes to %s now test, then push %s.", in.Path, repo, branchOr(in.Spec.Branch), in.Spec.Image)
}
