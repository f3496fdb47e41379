package spec

import (
	"time"

	"github.com/tinyboot/tinyboot/compose/authenticode"
)

// secureBoot checks the signing key pair: present, RSA, belonging
// together, the key private to its owner, the certificate in date.
func (c *checker) secureBoot() {
	sb := c.s.SecureBoot
	if sb == nil || sb.Key == "" || sb.Cert == "" {
		return
	}
	_, kok := c.exists("/secure_boot/key", sb.Key, wantFile)
	_, cok := c.exists("/secure_boot/cert", sb.Cert, wantFile)
	if !kok || !cok {
		return
	}
	_, probs := authenticode.LoadSigner(c.s.Resolve(sb.Key), c.s.Resolve(sb.Cert), time.Now())
	for _, p := range probs {
		sev := SeverityError
		if p.Warning {
			sev = SeverityWarning
		}
		c.report(sev, "/secure_boot/"+p.Field, p.Hint, "%s", p.Message)
	}
}
