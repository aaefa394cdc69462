package snowflake

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
)

// Errors from key parsing never quote the key or the passphrase.
var (
	errWrongPassphrase = errors.New("cannot decrypt the private key: wrong private_key_passphrase or a damaged key")
	errNeedPassphrase  = errors.New("the private key is encrypted: set private_key_passphrase")
)

// parsePrivateKey reads an RSA private key from PEM: PKCS#8 ("PRIVATE KEY"),
// PKCS#8 encrypted with PBES2 ("ENCRYPTED PRIVATE KEY", as `openssl pkcs8
// -topk8 -v2 aes256` or Snowflake's documented `-v2 des3` write it) or
// PKCS#1 ("RSA PRIVATE KEY").
func parsePrivateKey(pemText, passphrase []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemText)
	if block == nil {
		return nil, errors.New("no PEM block found; expected -----BEGIN PRIVATE KEY----- or -----BEGIN ENCRYPTED PRIVATE KEY-----")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		if len(passphrase) > 0 {
			return nil, errors.New("private_key_passphrase is set but the private key is not encrypted")
		}
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		if len(passphrase) == 0 {
			return nil, errNeedPassphrase
		}
		var der []byte
		if der, err = decryptPKCS8(block.Bytes, passphrase); err != nil {
			return nil, err
		}
		if key, err = x509.ParsePKCS8PrivateKey(der); err != nil {
			// Wrong passphrases usually fail the padding check; the rest
			// decrypt to garbage that does not parse.
			return nil, errWrongPassphrase
		}
	case "RSA PRIVATE KEY":
		if _, encrypted := block.Headers["Proc-Type"]; encrypted {
			return nil, errors.New("legacy PEM encryption (Proc-Type) is not supported; convert the key with `openssl pkcs8 -topk8 -v2 aes256`")
		}
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q; expected PRIVATE KEY, ENCRYPTED PRIVATE KEY or RSA PRIVATE KEY", block.Type)
	}
	if err != nil {
		// x509's messages describe the structure, never the key material.
		return nil, fmt.Errorf("cannot parse the private key: %w", err)
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key-pair authentication to Snowflake needs an RSA key, not %T", key)
	}
	return rk, nil
}

var (
	oidPBES2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}

	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}

	oidAES128CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDES3CBC   = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

// encryptedPrivateKeyInfo is RFC 5208's EncryptedPrivateKeyInfo.
type encryptedPrivateKeyInfo struct {
	Algorithm algorithmIdentifier
	Data      []byte
}

// pbes2Params is RFC 8018's PBES2-params.
type pbes2Params struct {
	KeyDerivation algorithmIdentifier
	Encryption    algorithmIdentifier
}

// pbkdf2Params is RFC 8018's PBKDF2-params; PRF defaults to HMAC-SHA1.
type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                 `asn1:"optional"`
	PRF        algorithmIdentifier `asn1:"optional"`
}

// maxIterations bounds the work a hostile key file can ask for.
const maxIterations = 10_000_000

func prfHash(oid asn1.ObjectIdentifier) (func() hash.Hash, error) {
	switch {
	case len(oid) == 0, oid.Equal(oidHMACSHA1):
		return sha1.New, nil
	case oid.Equal(oidHMACSHA224):
		return sha256.New224, nil
	case oid.Equal(oidHMACSHA256):
		return sha256.New, nil
	case oid.Equal(oidHMACSHA384):
		return sha512.New384, nil
	case oid.Equal(oidHMACSHA512):
		return sha512.New, nil
	}
	return nil, fmt.Errorf("unsupported PBKDF2 PRF %v", oid)
}

// blockCipher returns the cipher constructor and key size for a PBES2
// encryption scheme.
func blockCipher(oid asn1.ObjectIdentifier) (func([]byte) (cipher.Block, error), int, error) {
	switch {
	case oid.Equal(oidAES128CBC):
		return aes.NewCipher, 16, nil
	case oid.Equal(oidAES192CBC):
		return aes.NewCipher, 24, nil
	case oid.Equal(oidAES256CBC):
		return aes.NewCipher, 32, nil
	case oid.Equal(oidDES3CBC):
		return des.NewTripleDESCipher, 24, nil
	}
	return nil, 0, fmt.Errorf("unsupported PBES2 cipher %v; use AES-CBC or DES-EDE3-CBC", oid)
}

// decryptPKCS8 decrypts an EncryptedPrivateKeyInfo protected with PBES2
// (PBKDF2 and a CBC cipher) and returns the PKCS#8 DER inside.
func decryptPKCS8(der, passphrase []byte) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) > 0 {
		return nil, errors.New("cannot parse the encrypted private key")
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("unsupported key encryption %v; convert the key with `openssl pkcs8 -topk8 -v2 aes256`", info.Algorithm.Algorithm)
	}
	var params pbes2Params
	if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil {
		return nil, errors.New("cannot parse the PBES2 parameters")
	}
	if !params.KeyDerivation.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("unsupported key derivation %v; PBKDF2 is supported", params.KeyDerivation.Algorithm)
	}
	var kdf pbkdf2Params
	if _, err := asn1.Unmarshal(params.KeyDerivation.Parameters.FullBytes, &kdf); err != nil {
		return nil, errors.New("cannot parse the PBKDF2 parameters")
	}
	if kdf.Iterations < 1 || kdf.Iterations > maxIterations {
		return nil, fmt.Errorf("PBKDF2 iteration count %d is out of range", kdf.Iterations)
	}
	h, err := prfHash(kdf.PRF.Algorithm)
	if err != nil {
		return nil, err
	}
	newCipher, keyLen, err := blockCipher(params.Encryption.Algorithm)
	if err != nil {
		return nil, err
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != keyLen {
		return nil, fmt.Errorf("PBKDF2 key length %d does not fit the cipher's %d", kdf.KeyLength, keyLen)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.Encryption.Parameters.FullBytes, &iv); err != nil {
		return nil, errors.New("cannot parse the cipher's IV")
	}
	key, err := pbkdf2.Key(h, string(passphrase), kdf.Salt, kdf.Iterations, keyLen)
	if err != nil {
		return nil, fmt.Errorf("deriving the key: %w", err)
	}
	block, err := newCipher(key)
	if err != nil {
		return nil, fmt.Errorf("cipher: %w", err)
	}
	bs := block.BlockSize()
	if len(iv) != bs {
		return nil, errors.New("the cipher's IV has the wrong length")
	}
	if len(info.Data) == 0 || len(info.Data)%bs != 0 {
		return nil, errors.New("the encrypted key is not a whole number of cipher blocks")
	}
	out := make([]byte, len(info.Data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, info.Data)
	// PKCS#7 padding; a bad one almost always means a wrong passphrase.
	n := int(out[len(out)-1])
	if n == 0 || n > bs {
		return nil, errWrongPassphrase
	}
	for _, b := range out[len(out)-n:] {
		if int(b) != n {
			return nil, errWrongPassphrase
		}
	}
	return out[:len(out)-n], nil
}
