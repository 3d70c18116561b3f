// Never download a browser: the harness drives Debian's chromium (see harness/chromium.mjs).
module.exports = { skipDownload: true };
