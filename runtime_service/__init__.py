"""The public, browser-facing runtime API under /core/public/web-widgets, scaled out to many pods."""
