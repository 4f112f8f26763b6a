// Sign in: send the name and password, then go to the studio.
"use strict";
document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("login-error");
  error.textContent = "";
  const response = await fetch("/api/login", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({
      user: document.getElementById("user").value,
      password: document.getElementById("password").value,
    }),
  });
  if (response.ok) {
    window.location.href = "/";
  } else {
    const data = await response.json().catch(() => ({}));
    error.textContent = data.error || "Could not sign in.";
  }
});
