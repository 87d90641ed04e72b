package model

import "strings"

// uaBrowsers maps a User-Agent token to a browser's name, in the order
// they must be tried: Chromium-based browsers also send "Chrome/" and
// "Safari/", Chrome sends "Safari/" too, so the more specific come first.
var uaBrowsers = []struct{ token, name string }{
	{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"},
	{"OPR/", "Opera"}, {"Vivaldi/", "Vivaldi"}, {"SamsungBrowser/", "Samsung Internet"},
	{"YaBrowser/", "Yandex Browser"}, {"Brave/", "Brave"},
	{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
	{"CriOS/", "Chrome"}, {"HeadlessChrome/", "Headless Chrome"}, {"Chromium/", "Chromium"}, {"Chrome/", "Chrome"},
	{"Safari/", "Safari"},
	{"curl/", "curl"}, {"Wget/", "Wget"}, {"Go-http-client/", "Go client"}, {"python-requests/", "Python requests"},
}

// uaSystems maps a User-Agent token to an operating system's name, in the
// order they must be tried: Android sends "Linux", and iPhones and iPads
// send "like Mac OS X".
var uaSystems = []struct{ token, name string }{
	{"Windows", "Windows"}, {"Android", "Android"},
	{"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"iPod", "iOS"},
	{"CrOS", "ChromeOS"}, {"Macintosh", "macOS"}, {"Mac OS X", "macOS"},
	{"FreeBSD", "FreeBSD"}, {"OpenBSD", "OpenBSD"}, {"Linux", "Linux"},
}

// DescribeUserAgent names the browser and the operating system that a
// User-Agent header announces, for showing sessions to a person; "" for
// what it does not recognise. It is a guess by well-known tokens, which
// any client can fake, never a security decision.
func DescribeUserAgent(ua string) (browser, os string) {
	for _, b := range uaBrowsers {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, s := range uaSystems {
		if strings.Contains(ua, s.token) {
			os = s.name
			break
		}
	}
	return browser, os
}

// DescribeDevice is DescribeUserAgent in words: "Firefox on Linux",
// "Firefox", "Linux", or "unknown".
func DescribeDevice(ua string) string {
	browser, os := DescribeUserAgent(ua)
	switch {
	case browser != "" && os != "":
		return browser + " on " + os
	case browser != "":
		return browser
	case os != "":
		return os
	}
	return "unknown"
}
