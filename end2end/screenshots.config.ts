// The page screenshots in docs/screenshots (scripts/screenshots.sh): the
// same servers and browser as the suite, another test folder.
import base from "./playwright.config";

export default { ...base, testDir: "./screenshots" };
