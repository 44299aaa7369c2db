// Starts the page with the script-tag build (window.PkceFlow).
window.hostileApp(window.PkceFlow);
