# A page as a typical app serves it: HTML in a layout that links the fingerprinted stylesheet.
class PagesController < ApplicationController
  def styled
    response.set_header("X-Revision", Rails.configuration.x.revision)
  end
end
