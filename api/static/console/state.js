// What the whole console shares: who is signed in, which render is current, and the page's fixed elements.

export var state = { account: null, expiresAt: null, renderId: 0 };
export var view, flash, signIn;

// The page's fixed elements (console.html), looked up once the document is parsed.
export function bindElements() {
  view = document.getElementById("view");
  flash = document.getElementById("flash");
  signIn = document.getElementById("sign-in");
}
