// Progressive enhancement only: every form works without this script.
// Choosing an authorization method opens its settings and closes the others.
document.addEventListener("change", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.name.startsWith("auth_")) return;
  const group = input.closest("fieldset");
  if (!group) return;
  for (const details of group.querySelectorAll("details[data-auth]")) {
    details.open = details.dataset.auth === input.value;
  }
});
