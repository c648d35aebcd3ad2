Rails.application.routes.draw do
  # The load balancer's and the deploy's health check: 200 and the commit this process serves.
  get "/up", to: "up#show"
  root "home#index"
  # HTML linking the fingerprinted stylesheet (public/assets, from assets:precompile).
  get "/styled", to: "pages#styled"
end
