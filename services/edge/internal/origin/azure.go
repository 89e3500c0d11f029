package origin

import (
	"errors"
	"net/url"
	"strings"
)

// Azure Blob origins (ImageKit's AZURE_BLOB). A blob is fetched as any
// original is, by a plain GET that carries the origin's SAS token as its
// query: the token is the whole authorisation, so no request is signed
// here, and the Azure SDK's pipeline (its own retries and body handling)
// is not put beside the one HTTP path every origin takes.

// DefaultAzureBlobURL is Azure's public cloud, {account} the account name.
const DefaultAzureBlobURL = "https://{account}.blob.core.windows.net"

// AzureBlob is a container an origin reads from.
type AzureBlob struct {
	Account   string
	Container string
	Prefix    string // no leading or trailing '/'
	SAS       string // the SAS token, a query string without '?'
}

// CheckAzureBlobURL checks the account URL template: http(s), with
// {account} in it.
func CheckAzureBlobURL(t string) error {
	if !strings.Contains(t, "{account}") {
		return errors.New("want a URL with {account} in it, such as https://{account}.blob.core.windows.net")
	}
	u, err := url.Parse(strings.ReplaceAll(t, "{account}", "account"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return errors.New("want an http(s) URL such as https://{account}.blob.core.windows.net")
	}
	return nil
}

// azureTarget is the URL of imagePath's blob, its SAS token as the query.
func azureTarget(template string, a *AzureBlob, imagePath string) string {
	if template == "" {
		template = DefaultAzureBlobURL
	}
	name := underPrefix(a.Prefix, imagePath)
	base := strings.TrimRight(strings.ReplaceAll(template, "{account}", a.Account), "/")
	return base + "/" + a.Container + "/" + name + "?" + strings.TrimPrefix(a.SAS, "?")
}
