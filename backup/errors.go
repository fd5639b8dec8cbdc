package backup

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

// Why a backup is refused. Every refusal of Restore and Verify wraps one
// of them; nothing is written to the target when one is returned.
var (
	// ErrPassphrase: the passphrase does not open the backup.
	ErrPassphrase = errors.New("wrong passphrase")
	// ErrDamaged: the encrypted data ends early or fails authentication
	// (a partial copy, a changed byte).
	ErrDamaged = errors.New("the backup is damaged")
	// ErrNotBackup: the file is not a Fountain backup.
	ErrNotBackup = errors.New("not a Fountain backup")
	// ErrUnsupported: a backup in a format this Fountain does not read.
	ErrUnsupported = errors.New("unsupported backup format")
	// ErrTargetNotEmpty: the directory to restore into holds files.
	ErrTargetNotEmpty = errors.New("the target directory is not empty")
)

// ageIntro starts every age file.
const ageIntro = "age-encryption.org/v1\n"

// decrypt opens an age file with the passphrase. The reader it returns
// keeps the first error of the encrypted stream (see streamErr).
func decrypt(r io.Reader, passphrase string) (*authReader, error) {
	br := bufio.NewReader(r)
	intro, err := br.Peek(len(ageIntro))
	if string(intro) != ageIntro {
		if len(intro) == 0 && err != nil {
			return nil, fmt.Errorf("%w: the file is empty", ErrNotBackup)
		}
		if len(intro) < len(ageIntro) && string(intro) == ageIntro[:len(intro)] {
			return nil, fmt.Errorf("%w: it ends within its header (truncated)", ErrDamaged)
		}
		return nil, fmt.Errorf("%w: it is not an age-encrypted file", ErrNotBackup)
	}
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPassphrase, err)
	}
	ar, err := age.Decrypt(br, id)
	if err != nil {
		return nil, headerError(err)
	}
	return &authReader{r: ar}, nil
}

// headerError explains why age refused the header.
func headerError(err error) error {
	var none *age.NoIdentityMatchError
	if errors.As(err, &none) {
		for _, t := range none.StanzaTypes {
			if t != "scrypt" {
				return fmt.Errorf("%w: it is encrypted to a key, not with a passphrase", ErrNotBackup)
			}
		}
		return fmt.Errorf("%w (or the backup's header was changed)", ErrPassphrase)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: it ends within its header (truncated)", ErrDamaged)
	}
	return fmt.Errorf("%w: its header does not check out: %v", ErrDamaged, err)
}

// authReader reads age's decrypted stream and keeps its first error:
// archive/tar and compress/gzip report a failed read in their own words,
// and this tells an unauthenticated or truncated stream (ErrDamaged) from
// an authentic one that is malformed (ErrNotBackup).
type authReader struct {
	r   io.Reader
	err error
}

func (a *authReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err != nil && err != io.EOF && a.err == nil {
		a.err = err
	}
	return n, err
}

// explain turns an error met while reading the plaintext into one of the
// package's refusals.
func (a *authReader) explain(err error) error {
	var put *putError
	switch {
	case errors.As(err, &put) && a.err == nil:
		return put.err
	case a.err == nil:
		if errors.Is(err, ErrNotBackup) || errors.Is(err, ErrUnsupported) || errors.Is(err, ErrDamaged) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrNotBackup, err)
	case errors.Is(a.err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: it ends early (truncated)", ErrDamaged)
	default:
		return fmt.Errorf("%w: its encrypted data fails authentication (truncated, or changed)", ErrDamaged)
	}
}
