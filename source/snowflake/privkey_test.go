package snowflake

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The keys in testdata were made for these tests with openssl 3.0:
//
//	openssl genrsa 2048 | openssl pkcs8 -topk8 -nocrypt           > rsa_key.p8
//	openssl pkcs8 -topk8 -v2 aes256 -v2prf hmacWithSHA256         > rsa_key_aes256.p8
//	openssl pkcs8 -topk8 -v2 des3 -v2prf hmacWithSHA1             > rsa_key_des3.p8
//	openssl pkcs8 -topk8 -v2 aes128 -v2prf hmacWithSHA512         > rsa_key_aes128_sha512.p8
//	openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES                        > rsa_key_pbes1.p8
//	openssl rsa -traditional -aes256                              > rsa_key_legacy_encrypted.pem
//	openssl ecparam -name prime256v1 -genkey | openssl pkcs8 -topk8 -nocrypt > ec_key.p8
//
// all of one RSA key (but the EC one), with passphrase testPassphrase.
const testPassphrase = "retl-test-passphrase"

func readKey(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return b
}

func TestParsePrivateKey(t *testing.T) {
	plain, err := parsePrivateKey(readKey(t, "rsa_key.p8"), nil)
	require.NoError(t, err)

	for _, name := range []string{"rsa_key_aes256.p8", "rsa_key_des3.p8", "rsa_key_aes128_sha512.p8"} {
		k, err := parsePrivateKey(readKey(t, name), []byte(testPassphrase))
		require.NoError(t, err, name)
		assert.True(t, plain.Equal(k), name)
	}

	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(plain)})
	k, err := parsePrivateKey(pkcs1, nil)
	require.NoError(t, err)
	assert.True(t, plain.Equal(k))
}

func TestParsePrivateKeyErrors(t *testing.T) {
	pass := []byte(testPassphrase)
	cases := []struct {
		name       string
		pem        []byte
		passphrase []byte
		msg        string
	}{
		{"not PEM", []byte("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"), nil, "no PEM block found"},
		{"passphrase for a plain key", readKey(t, "rsa_key.p8"), pass, "private_key_passphrase is set but the private key is not encrypted"},
		{"no passphrase", readKey(t, "rsa_key_aes256.p8"), nil, "the private key is encrypted: set private_key_passphrase"},
		{"wrong passphrase", readKey(t, "rsa_key_aes256.p8"), []byte("not-the-passphrase"), "wrong private_key_passphrase"},
		{"legacy encryption", readKey(t, "rsa_key_legacy_encrypted.pem"), pass, "legacy PEM encryption (Proc-Type) is not supported"},
		{"PBES1", readKey(t, "rsa_key_pbes1.p8"), pass, "unsupported key encryption 1.2.840.113549.1.12.1.3"},
		{"EC key", readKey(t, "ec_key.p8"), nil, "needs an RSA key, not *ecdsa.PrivateKey"},
		{"certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), nil, `unsupported PEM block "CERTIFICATE"`},
		{"damaged PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2}}), nil, "cannot parse the private key"},
		{"damaged PKCS#1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1, 2}}), nil, "cannot parse the private key"},
	}
	for _, c := range cases {
		_, err := parsePrivateKey(c.pem, c.passphrase)
		if assert.Error(t, err, c.name) {
			assert.Contains(t, err.Error(), c.msg, c.name)
			assert.NotContains(t, err.Error(), testPassphrase, c.name)
		}
	}
}

// encrypted builds an EncryptedPrivateKeyInfo from parts, for the
// structures openssl will not write.
type encParts struct {
	scheme    asn1.ObjectIdentifier
	kdf       asn1.ObjectIdentifier
	kdfParams any
	cipher    asn1.ObjectIdentifier
	iv        any
	data      []byte
	rawParams []byte // replaces the PBES2 parameters
	rawKDF    []byte // replaces the PBKDF2 parameters
	rawIV     []byte // replaces the IV
}

func raw(t *testing.T, v any) asn1.RawValue {
	t.Helper()
	b, err := asn1.Marshal(v)
	require.NoError(t, err)
	return asn1.RawValue{FullBytes: b}
}

func (p encParts) der(t *testing.T) []byte {
	t.Helper()
	kdfParams := raw(t, p.kdfParams)
	if p.rawKDF != nil {
		kdfParams = asn1.RawValue{FullBytes: p.rawKDF}
	}
	iv := asn1.RawValue{FullBytes: p.rawIV}
	if p.rawIV == nil {
		iv = raw(t, p.iv)
	}
	params := raw(t, pbes2Params{
		KeyDerivation: algorithmIdentifier{Algorithm: p.kdf, Parameters: kdfParams},
		Encryption:    algorithmIdentifier{Algorithm: p.cipher, Parameters: iv},
	})
	if p.rawParams != nil {
		params = asn1.RawValue{FullBytes: p.rawParams}
	}
	b, err := asn1.Marshal(encryptedPrivateKeyInfo{Algorithm: algorithmIdentifier{Algorithm: p.scheme, Parameters: params}, Data: p.data})
	require.NoError(t, err)
	return b
}

func goodParts() encParts {
	return encParts{
		scheme:    oidPBES2,
		kdf:       oidPBKDF2,
		kdfParams: pbkdf2Params{Salt: make([]byte, 16), Iterations: 1000, PRF: algorithmIdentifier{Algorithm: oidHMACSHA256}},
		cipher:    oidAES256CBC,
		iv:        make([]byte, 16),
		data:      make([]byte, 32),
	}
}

// seal encrypts plaintext as goodParts describes, with PKCS#7 padding of
// the given pad bytes (a correct padding when nil).
func seal(t *testing.T, plaintext, pad []byte) []byte {
	t.Helper()
	key, err := pbkdf2.Key(sha256.New, testPassphrase, make([]byte, 16), 1000, 32)
	require.NoError(t, err)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	if pad == nil {
		n := 16 - len(plaintext)%16
		for range n {
			pad = append(pad, byte(n))
		}
	}
	msg := append(append([]byte{}, plaintext...), pad...)
	out := make([]byte, len(msg))
	cipher.NewCBCEncrypter(block, make([]byte, 16)).CryptBlocks(out, msg)
	return out
}

func TestDecryptPKCS8Structure(t *testing.T) {
	pass := []byte(testPassphrase)
	mod := func(f func(*encParts)) []byte {
		p := goodParts()
		f(&p)
		return p.der(t)
	}
	cases := []struct {
		name string
		der  []byte
		msg  string
	}{
		{"not DER", []byte{0x30, 0x01}, "cannot parse the encrypted private key"},
		{"trailing bytes", append(goodParts().der(t), 0), "cannot parse the encrypted private key"},
		{"PBES2 params", mod(func(p *encParts) { p.rawParams = []byte{5, 0} }), "cannot parse the PBES2 parameters"},
		{"not PBKDF2", mod(func(p *encParts) { p.kdf = asn1.ObjectIdentifier{1, 2, 3} }), "unsupported key derivation 1.2.3"},
		{"PBKDF2 params", mod(func(p *encParts) { p.rawKDF = []byte{5, 0} }), "cannot parse the PBKDF2 parameters"},
		{"iterations", mod(func(p *encParts) {
			p.kdfParams = pbkdf2Params{Salt: []byte{1}, Iterations: maxIterations + 1}
		}), "PBKDF2 iteration count 10000001 is out of range"},
		{"PRF", mod(func(p *encParts) {
			p.kdfParams = pbkdf2Params{Salt: []byte{1}, Iterations: 1, PRF: algorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 4}}}
		}), "unsupported PBKDF2 PRF 1.2.4"},
		{"cipher", mod(func(p *encParts) { p.cipher = asn1.ObjectIdentifier{1, 2, 5} }), "unsupported PBES2 cipher 1.2.5"},
		{"key length", mod(func(p *encParts) {
			p.kdfParams = pbkdf2Params{Salt: []byte{1}, Iterations: 1, KeyLength: 16}
		}), "PBKDF2 key length 16 does not fit the cipher's 32"},
		{"IV not DER", mod(func(p *encParts) { p.rawIV = []byte{5, 0} }), "cannot parse the cipher's IV"},
		{"IV length", mod(func(p *encParts) { p.iv = []byte{1, 2} }), "the cipher's IV has the wrong length"},
		{"partial block", mod(func(p *encParts) { p.data = make([]byte, 17) }), "not a whole number of cipher blocks"},
		{"no data", mod(func(p *encParts) { p.data = nil }), "not a whole number of cipher blocks"},
		{"pad zero", mod(func(p *encParts) { p.data = seal(t, make([]byte, 15), []byte{0}) }), "wrong private_key_passphrase"},
		{"pad too long", mod(func(p *encParts) { p.data = seal(t, make([]byte, 15), []byte{17}) }), "wrong private_key_passphrase"},
		{"pad uneven", mod(func(p *encParts) { p.data = seal(t, make([]byte, 14), []byte{1, 2}) }), "wrong private_key_passphrase"},
	}
	for _, c := range cases {
		_, err := decryptPKCS8(c.der, pass)
		if assert.Error(t, err, c.name) {
			assert.Contains(t, err.Error(), c.msg, c.name)
		}
	}

	// Correct padding around what is not a key: the passphrase is taken
	// to be wrong, as it is what usually causes this.
	p := goodParts()
	p.data = seal(t, []byte("not a key at all"), nil)
	block := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: p.der(t)})
	_, err := parsePrivateKey(block, pass)
	assert.ErrorIs(t, err, errWrongPassphrase)

	// And PBKDF2 with other PRFs, through a real key encrypted here.
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	p = goodParts()
	p.data = seal(t, der, nil)
	got, err := decryptPKCS8(p.der(t), pass)
	require.NoError(t, err)
	assert.Equal(t, der, got)
}

// TestKeyDerivationRefusedInFIPSMode runs in a child process with
// GODEBUG=fips140=only, where the standard library refuses PBKDF2 with a
// short salt and triple DES: the errors must come back, not a panic.
func TestKeyDerivationRefusedInFIPSMode(t *testing.T) {
	if os.Getenv("RETL_FIPS_CHILD") == "1" {
		pass := []byte(testPassphrase)
		// openssl's 8-byte salt.
		_, err := decryptPKCS8(derOf(t, "rsa_key_aes256.p8"), pass)
		require.ErrorContains(t, err, "deriving the key")
		p := goodParts()
		p.cipher = oidDES3CBC
		p.iv = make([]byte, 8)
		_, err = decryptPKCS8(p.der(t), pass)
		require.ErrorContains(t, err, "cipher: ")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKeyDerivationRefusedInFIPSMode$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "GODEBUG=fips140=only", "RETL_FIPS_CHILD=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "--- PASS: TestKeyDerivationRefusedInFIPSMode")
}

func derOf(t *testing.T, name string) []byte {
	t.Helper()
	block, _ := pem.Decode(readKey(t, name))
	require.NotNil(t, block)
	return block.Bytes
}
