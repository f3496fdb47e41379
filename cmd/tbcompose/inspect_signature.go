package main

import (
	"fmt"
	"io"

	"github.com/tinyboot/tinyboot/compose"
	"github.com/tinyboot/tinyboot/compose/authenticode"
)

// printSignature prints the UKI's Secure Boot signature state.
func printSignature(w io.Writer, s *authenticode.Summary) {
	if s == nil {
		return
	}
	if !s.Signed {
		fmt.Fprintf(w, "  signed    no (Authenticode SHA-256 %s)\n", s.Digest)
		return
	}
	for _, sg := range s.Signers {
		fmt.Fprintf(w, "  signed    by %q serial %s\n", sg.Subject, sg.Serial)
		fmt.Fprintf(w, "            digest %s", sg.Digest)
		if sg.Digest != s.Digest {
			fmt.Fprintf(w, " (the image's is %s: it changed after signing)", s.Digest)
		}
		fmt.Fprintln(w)
	}
}

// verifySignature checks the inspected UKI's signature against the
// certificate at certPath.
func verifySignature(w io.Writer, in *compose.Inspection, certPath string) error {
	cert, err := authenticode.ReadCertificate(certPath)
	if err != nil {
		return withCode(exitUsage, fmt.Errorf("--cert: %w", err))
	}
	if in.Signature == nil {
		return withCode(exitInvalid, fmt.Errorf("%s: no UKI found to verify", in.Path))
	}
	if err := in.Signature.Verify(cert); err != nil {
		return withCode(exitInvalid, fmt.Errorf("%s: signature does not verify against %s: %w", in.Path, certPath, err))
	}
	fmt.Fprintf(w, "signature verification OK against %s (%s)\n", certPath, cert.Subject)
	return nil
}
