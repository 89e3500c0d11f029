package objectstore

import (
	"net/http"
	"testing"
)

func TestObjectURL(t *testing.T) {
	for _, tc := range []struct {
		name       string
		s3         S3
		serviceURL string
		region     string
		want       string
	}{
		{"Amazon, us-east-1", S3{Bucket: "photos", Prefix: "shop"}, "", "us-east-1", "https://photos.s3.us-east-1.amazonaws.com/shop/a.jpg"},
		{"Amazon, another region", S3{Bucket: "photos"}, "", "eu-west-3", "https://photos.s3.eu-west-3.amazonaws.com/a.jpg"},
		{"Amazon, dotted bucket in the path", S3{Bucket: "img.example.com"}, "", "eu-west-3", "https://s3.eu-west-3.amazonaws.com/img.example.com/a.jpg"},
		{"Amazon, another partition", S3{Bucket: "photos"}, "https://s3.{region}.amazonaws.com.cn", "cn-north-1", "https://photos.s3.cn-north-1.amazonaws.com.cn/a.jpg"},
		{"Amazon at an address: path style", S3{Bucket: "photos"}, "http://127.0.0.1:9000/", "eu-west-1", "http://127.0.0.1:9000/photos/a.jpg"},
		{"Amazon at a dotless host: path style", S3{Bucket: "photos"}, "http://localhost:9000", "eu-west-1", "http://localhost:9000/photos/a.jpg"},
		{"compatible, path style", S3{Endpoint: "http://127.0.0.1:9000/", Bucket: "b", Prefix: "a b/c", PathStyle: true}, "", "us-east-1", "http://127.0.0.1:9000/b/a%20b/c/a.jpg"},
		{"compatible, host style", S3{Endpoint: "https://s3.example.net", Bucket: "b"}, "", "us-east-1", "https://b.s3.example.net/a.jpg"},
		{"compatible ignores the Amazon URL", S3{Endpoint: "https://s3.example.net", Bucket: "b", PathStyle: true}, "http://127.0.0.1:1", "us-east-1", "https://s3.example.net/b/a.jpg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.s3.ObjectURL(tc.serviceURL, tc.region, "a.jpg")
			if err != nil || got != tc.want {
				t.Fatalf("ObjectURL = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestCheckURLs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(string) error
		url   string
		ok    bool
	}{
		{"S3 default", CheckS3URL, DefaultS3URL, true},
		{"S3 single-region endpoint", CheckS3URL, "http://127.0.0.1:8333", true},
		{"S3 not http", CheckS3URL, "ftp://s3.{region}.example", false},
		{"S3 with a query", CheckS3URL, "https://s3.{region}.amazonaws.com/?x=1", false},
		{"S3 with credentials", CheckS3URL, "https://u:p@s3.{region}.amazonaws.com", false},
		{"Azure default", CheckAzureBlobURL, DefaultAzureBlobURL, true},
		{"Azure without {account}", CheckAzureBlobURL, "https://blob.core.windows.net", false},
		{"Azure not http", CheckAzureBlobURL, "ftp://{account}.x", false},
		{"Azure with a query", CheckAzureBlobURL, "https://{account}.x/?a=1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.check(tc.url); (err == nil) != tc.ok {
				t.Fatalf("check(%q) = %v, want ok=%v", tc.url, err, tc.ok)
			}
		})
	}
}

func TestBlobURL(t *testing.T) {
	a := &Azure{Account: "acct1", Container: "images", Prefix: "a b/c", SAS: "?sv=1&sig=x"}
	if got, want := a.BlobURL("", "d.jpg"), "https://acct1.blob.core.windows.net/images/a%20b/c/d.jpg?sv=1&sig=x"; got != want {
		t.Fatalf("BlobURL = %q, want %q", got, want)
	}
	if got, want := a.BlobURL("http://127.0.0.1:10000/{account}", "d.jpg"), "http://127.0.0.1:10000/acct1/images/a%20b/c/d.jpg?sv=1&sig=x"; got != want {
		t.Fatalf("BlobURL on Azurite = %q, want %q", got, want)
	}
}

func TestMovedRegion(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		header string
		want   string
	}{
		{"301 naming another region", http.StatusMovedPermanently, "eu-west-1", "eu-west-1"},
		{"400 naming another region", http.StatusBadRequest, "eu-west-1", "eu-west-1"},
		{"the region signed for", http.StatusBadRequest, "us-east-1", ""},
		{"no header", http.StatusMovedPermanently, "", ""},
		{"403 is a refusal, not a move", http.StatusForbidden, "eu-west-1", ""},
		{"200", http.StatusOK, "eu-west-1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
			if tc.header != "" {
				resp.Header.Set(RegionHeader, tc.header)
			}
			if got := MovedRegion(resp, "us-east-1"); got != tc.want {
				t.Fatalf("MovedRegion = %q, want %q", got, tc.want)
			}
		})
	}
}
